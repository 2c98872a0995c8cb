import { describe, expect, it } from 'vitest';
import type { ActorRecord } from 'statehub';
import { simulationConnector } from 'statehub/worker';
import { recordCommits } from '../helpers/commits.js';
import { controlledConnector } from '../helpers/connectors.js';
import { api, snapshot, submit, testHub, testRecording, testWorker } from '../helpers/hub.js';

const context = (record: ActorRecord) => record.snapshot.context as Record<string, any>;

/** The jobs a connector took, in order, from its own record history (its context names the job while active). */
function jobsRunBy(records: ActorRecord[]): string[] {
  const jobs: string[] = [];
  for (const record of records) {
    const jobId = context(record).jobId as string | null;
    if (record.state === 'active' && jobId && jobs.at(-1) !== jobId) jobs.push(jobId);
  }
  return jobs;
}

/** Resolves once Date.now() has moved on, so the next job submitted is strictly younger than the last. */
async function nextMillisecond(): Promise<void> {
  const now = Date.now();
  while (Date.now() === now) await new Promise((resolve) => setTimeout(resolve, 1));
}

describe('dispatch: per-type queues', () => {
  it('gives a job only to a connector of its type', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    const worker = await testWorker(hub, {
      id: 'mixed',
      connectors: [simulationConnector({ id: 'sim-1', startupMs: 1 }), simulationConnector({ id: 'render-1', type: 'render', startupMs: 1 })],
    });
    expect([...worker.connectors.keys()]).toEqual(['sim-1', 'render-1']);

    const jobs = [];
    for (let i = 0; i < 3; i++) {
      jobs.push(await submit(hub, { type: 'simulation', payload: { durationMs: 5, steps: 1 } }));
      jobs.push(await submit(hub, { type: 'render', payload: { durationMs: 5, steps: 1 } }));
    }
    for (const job of jobs) {
      const done = await recording.waitFor(job.id, 'completed');
      expect(context(done).connectorId).toBe(job.snapshot.context.type === 'render' ? 'render-1' : 'sim-1');
      expect(context(done).workerId).toBe('mixed');
    }
    expect(jobsRunBy(recording.records('sim-1'))).toEqual(jobs.filter((job) => job.snapshot.context.type === 'simulation').map((job) => job.id));
    expect(jobsRunBy(recording.records('render-1'))).toEqual(jobs.filter((job) => job.snapshot.context.type === 'render').map((job) => job.id));
  });

  it('keeps a job of a type nobody serves pending, and runs it once a worker with that connector type joins', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    await testWorker(hub, { id: 'sims-only' });

    const orphan = await submit(hub, { type: 'transcode', payload: { durationMs: 5, steps: 1 } });
    const served = await submit(hub, { type: 'simulation', payload: { durationMs: 5, steps: 1 } });
    await recording.waitFor(served.id, 'completed');
    expect((await api(hub, 'GET', `/api/jobs/${orphan.id}`)).body.state).toBe('pending');
    expect(recording.states(orphan.id)).toEqual(['pending']);

    await testWorker(hub, { id: 'transcoder', connectors: [simulationConnector({ id: 'transcode-1', type: 'transcode', startupMs: 1 })] });
    const done = await recording.waitFor(orphan.id, 'completed');
    recording.expect(orphan.id, 'pending > assigned > running > completed');
    expect(context(done)).toMatchObject({ workerId: 'transcoder', connectorId: 'transcode-1', attempts: 1 });
  });
});

describe('dispatch: order', () => {
  it('runs waiting jobs by priority first, then by age, on a single connector', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    const plan = [
      { name: 'a', priority: 0 },
      { name: 'b', priority: 5 },
      { name: 'c', priority: 0 },
      { name: 'd', priority: 10 },
      { name: 'e', priority: 5 },
      { name: 'f', priority: -3 },
      { name: 'g', priority: 10 },
    ];
    const ids = new Map<string, string>();
    for (const { name, priority } of plan) {
      await nextMillisecond();
      const job = await submit(hub, { type: 'simulation', priority, payload: { durationMs: 2, steps: 1 } });
      ids.set(job.id, name);
    }

    const worker = await testWorker(hub, { id: 'single', connectors: [simulationConnector({ id: 'only-one', startupMs: 1 })] });
    expect(worker.connectors.size).toBe(1);
    for (const id of ids.keys()) await recording.waitFor(id, 'completed');

    const order = jobsRunBy(recording.records('only-one')).map((id) => ids.get(id));
    expect(order).toEqual(['d', 'g', 'b', 'e', 'a', 'c', 'f']);
  });

  it('runs the jobs of one batch with equal priority in the order they were submitted', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    const answer = await api(hub, 'POST', '/api/jobs/batch', {
      jobs: Array.from({ length: 8 }, (_, n) => ({ type: 'simulation', payload: { durationMs: 1, steps: 1, n } })),
    });
    expect(answer.status).toBe(201);
    const ids: string[] = answer.body.records.map((record: ActorRecord) => record.id);

    await testWorker(hub, { id: 'single', connectors: [simulationConnector({ id: 'only-one', startupMs: 1 })] });
    for (const id of ids) await recording.waitFor(id, 'completed');
    expect(jobsRunBy(recording.records('only-one'))).toEqual(ids);
  });
});

describe('dispatch: requirements', () => {
  const capabilities = { gpus: 2, vramGb: 24, models: ['sdxl', 'flux', 'llama'], region: 'eu', cuda: true, limits: { batch: 4 } };

  const met = {
    'number below the offer': { gpus: 1 },
    'number equal to the offer': { gpus: 2, vramGb: 24 },
    'array contained in the offer': { models: ['flux', 'sdxl'] },
    'string equal': { region: 'eu' },
    'boolean equal': { cuda: true },
    'object equal': { limits: { batch: 4 } },
    'several, all met': { gpus: 2, models: ['llama'], region: 'eu' },
    nothing: {},
  };
  const unmet = {
    'number above the offer': { gpus: 3 },
    'array not contained': { models: ['sdxl', 'whisper'] },
    'string different': { region: 'us' },
    'boolean different': { cuda: false },
    'object different': { limits: { batch: 8 } },
    'number asked as a string': { gpus: '2' },
    'capability not offered': { tpu: 1 },
    'one of several unmet': { gpus: 1, region: 'us' },
  };

  it('gives a worker only the jobs whose requirements its capabilities meet; the others stay pending', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    const jobs = new Map<string, { name: string; shouldRun: boolean }>();
    for (const [name, requirements] of Object.entries(unmet)) {
      const job = await submit(hub, { type: 'simulation', requirements, payload: { durationMs: 1, steps: 1 } });
      jobs.set(job.id, { name, shouldRun: false });
    }
    for (const [name, requirements] of Object.entries(met)) {
      const job = await submit(hub, { type: 'simulation', requirements, payload: { durationMs: 1, steps: 1 } });
      jobs.set(job.id, { name, shouldRun: true });
    }

    await testWorker(hub, { id: 'gpu-box', capabilities, simulations: 2 });
    for (const [id, { shouldRun }] of jobs) {
      if (shouldRun) expect(context(await recording.waitFor(id, 'completed')).workerId).toBe('gpu-box');
    }
    const current = await snapshot(hub, '?kinds=job');
    const stillPending = current.records
      .filter((record) => record.state === 'pending')
      .map((record) => jobs.get(record.id)?.name)
      .sort();
    expect(stillPending).toEqual(Object.keys(unmet).sort());
    for (const [id, { shouldRun }] of jobs) if (!shouldRun) expect(recording.states(id)).toEqual(['pending']);
  });

  it('runs a job nobody could take once a worker that meets it joins, on that worker', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    await testWorker(hub, { id: 'small', capabilities: { gpus: 1 } });
    const big = await submit(hub, { type: 'simulation', requirements: { gpus: 4 }, payload: { durationMs: 1, steps: 1 } });
    const small = await submit(hub, { type: 'simulation', requirements: { gpus: 1 }, payload: { durationMs: 1, steps: 1 } });
    expect(context(await recording.waitFor(small.id, 'completed')).workerId).toBe('small');
    expect(recording.states(big.id)).toEqual(['pending']);

    await testWorker(hub, { id: 'large', capabilities: { gpus: 8 } });
    expect(context(await recording.waitFor(big.id, 'completed')).workerId).toBe('large');
  });
});

describe('dispatch: retries', () => {
  it('retries a failing job with exponential backoff until it completes', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    await testWorker(hub, { id: 'flaky' });
    const backoffMs = 250;
    const job = await submit(hub, {
      type: 'simulation',
      backoffMs,
      maxAttempts: 3,
      payload: { durationMs: 1, steps: 1, failTimes: 2, failWith: 'flaky service' },
    });

    // Each retry is a durable timer in the store: due backoffMs, then 2 x backoffMs, after the failure.
    const delays: number[] = [];
    for (const attempts of [1, 2]) {
      const retrying = await recording.waitFor(job.id, (record) => record.state === 'retrying' && context(record).attempts === attempts);
      const timer = (await hub.store.dueTimers(Number.MAX_SAFE_INTEGER, 1_000)).find((candidate) => candidate.actorId === job.id);
      expect(timer, `the retry timer of attempt ${attempts}`).toBeDefined();
      delays.push(timer!.dueAt - Date.parse(retrying.updatedAt));
      expect(context(retrying)).toMatchObject({ error: { message: 'flaky service' }, workerId: null, connectorId: null });
    }
    expect(delays).toEqual([backoffMs, 2 * backoffMs]);

    const done = await recording.waitFor(job.id, 'completed');
    recording.expect(job.id, 'pending > assigned > running > retrying > pending > assigned > running > retrying > pending > assigned > running > completed');
    expect(context(done)).toMatchObject({ attempts: 3, error: null, progress: 100, result: { attempt: 3 } });
  });

  it('fails a job for good after maxAttempts, keeping the error of the last attempt', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    const connector = controlledConnector();
    await testWorker(hub, { id: 'failing', connectors: [connector.implementation] });
    const job = await submit(hub, { type: 'controlled', backoffMs: 5, maxAttempts: 3, payload: { fail: true } });

    const failed = await recording.waitFor(job.id, 'failed');
    recording.expect(job.id, 'pending > assigned > running > retrying > pending > assigned > running > retrying > pending > assigned > running > failed');
    expect(context(failed)).toMatchObject({ attempts: 3, maxAttempts: 3, error: { message: 'attempt 3 failed' }, result: null });
    expect(connector.runs.map((run) => run.attempt)).toEqual([1, 2, 3]);
    expect((await api(hub, 'GET', `/api/jobs/${job.id}`)).body.state).toBe('failed');
  });

  it('fails a simulation for good with its failWith message once maxAttempts are used', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    await testWorker(hub);
    const job = await submit(hub, { type: 'simulation', backoffMs: 5, maxAttempts: 2, payload: { durationMs: 1, steps: 1, failTimes: 5, failWith: 'always broken' } });

    const failed = await recording.waitFor(job.id, 'failed');
    recording.expect(job.id, 'pending > assigned > running > retrying > pending > assigned > running > failed');
    expect(context(failed)).toMatchObject({ attempts: 2, error: { message: 'always broken' } });
  });
});

describe('dispatch: timeouts', () => {
  it('fails an attempt that outlives timeoutMs with a "timed out" error and aborts the connector’s work', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    const connector = controlledConnector({ id: 'slow' });
    await testWorker(hub, { id: 'w', connectors: [connector.implementation] });
    const job = await submit(hub, { type: 'controlled', timeoutMs: 100, maxAttempts: 1, payload: { hold: true } });

    await connector.started(job.id);
    const failed = await recording.waitFor(job.id, 'failed');
    recording.expect(job.id, 'pending > assigned > running > failed');
    expect(context(failed).error).toEqual({ message: 'timed out after 100 ms' });
    await connector.aborted(job.id);
    await recording.waitFor('slow', 'idle');
    recording.expect('slow', 'starting > idle > active > idle');

    // The connector is free again: it takes the next job.
    const next = await submit(hub, { type: 'controlled' });
    const done = await recording.waitFor(next.id, 'completed');
    expect(context(done)).toMatchObject({ connectorId: 'slow', result: { ran: next.id } });
  });

  it('stops a long simulation at its timeout, retries it, and frees the connector', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    await testWorker(hub, { id: 'w', connectors: [simulationConnector({ id: 'sim', startupMs: 1 })] });
    const job = await submit(hub, { type: 'simulation', timeoutMs: 100, maxAttempts: 2, backoffMs: 5, payload: { durationMs: 60_000, steps: 600 } });

    const failed = await recording.waitFor(job.id, 'failed');
    recording.expect(job.id, 'pending > assigned > running > retrying > pending > assigned > running > failed');
    expect(context(failed)).toMatchObject({ attempts: 2, error: { message: 'timed out after 100 ms' } });
    // A minute-long simulation would still hold the connector had its work not been aborted.
    await recording.waitFor('sim', 'idle');
    const next = await submit(hub, { type: 'simulation', payload: { durationMs: 1, steps: 1 } });
    expect(context(await recording.waitFor(next.id, 'completed')).connectorId).toBe('sim');
  });
});

describe('dispatch: cancel', () => {
  it('cancels a running job: the signal reaches the connector’s work, which goes idle and takes the next job', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    const connector = controlledConnector({ id: 'ctl' });
    await testWorker(hub, { id: 'w', connectors: [connector.implementation] });
    const running = await submit(hub, { type: 'controlled', payload: { hold: true } });
    const queued = await submit(hub, { type: 'controlled', payload: { note: 'next' } });

    await connector.started(running.id);
    await recording.waitFor(running.id, 'running');
    const answer = await api(hub, 'POST', `/api/jobs/${running.id}/cancel`);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ id: running.id, state: 'cancelled' });

    await connector.aborted(running.id);
    const done = await recording.waitFor(queued.id, 'completed');
    expect(context(done)).toMatchObject({ connectorId: 'ctl', result: { ran: queued.id } });
    recording.expect(running.id, 'pending > assigned > running > cancelled');
    expect(jobsRunBy(recording.records('ctl'))).toEqual([running.id, queued.id]);
    expect(connector.runs.map((run) => run.id)).toEqual([running.id, queued.id]);

    // Final: cancelling again is a conflict, and the job stays cancelled.
    expect((await api(hub, 'POST', `/api/jobs/${running.id}/cancel`)).status).toBe(409);
    expect((await api(hub, 'GET', `/api/jobs/${running.id}`)).body.state).toBe('cancelled');
    await recording.waitFor('ctl', 'idle');
  });

  it('cancels a retrying job: its retry timer is dropped and it never runs again', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    const connector = controlledConnector();
    await testWorker(hub, { connectors: [connector.implementation] });
    const job = await submit(hub, { type: 'controlled', backoffMs: 60_000, maxAttempts: 5, payload: { fail: true } });

    await recording.waitFor(job.id, 'retrying');
    const timers = async () => (await hub.store.dueTimers(Number.MAX_SAFE_INTEGER, 1_000)).filter((timer) => timer.actorId === job.id);
    expect(await timers()).toHaveLength(1);
    const answer = await api(hub, 'POST', `/api/jobs/${job.id}/cancel`);
    expect(answer.body).toMatchObject({ state: 'cancelled' });
    expect(answer.body.snapshot.context.attempts).toBe(1);
    expect(await timers()).toEqual([]);
    await recording.waitFor(job.id, 'cancelled');
    recording.expect(job.id, 'pending > assigned > running > retrying > cancelled');
    expect(connector.runs).toHaveLength(1);
  });

  it('cancels a pending job, which never runs', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    const commits = recordCommits(hub);
    const cancelled = await submit(hub, { type: 'simulation', payload: { durationMs: 1, steps: 1 } });
    expect((await api(hub, 'POST', `/api/jobs/${cancelled.id}/cancel`)).body.state).toBe('cancelled');
    expect((await api(hub, 'POST', '/api/jobs/job_doesnotexist/cancel')).status).toBe(404);

    await testWorker(hub);
    const later = await submit(hub, { type: 'simulation', payload: { durationMs: 1, steps: 1 } });
    await recording.waitFor(later.id, 'completed');
    recording.expect(cancelled.id, 'pending > cancelled');
    expect(commits.find(cancelled.id, (record) => record.state === 'assigned')).toBeUndefined();
  });
});
