/** The http connector with a service that takes jobs for later: polling, callbacks, cancel, field names. */
import { describe, expect, it } from 'vitest';
import type { ActorRecord } from 'statehub';
import { httpConnector, type HttpConnectorOptions } from 'statehub/worker';
import { startAsyncService, type AsyncServiceOptions } from '../helpers/async-service.js';
import { api, submit, testHub, testRecording, testWorker } from '../helpers/hub.js';

const context = (record: ActorRecord) => record.snapshot.context as Record<string, any>;
const RUNNING = { status: 'running', progress: 40 };
const DONE = { status: 'succeeded', result: { url: 'out.png' } };

async function setup(service: AsyncServiceOptions, asyncOptions: HttpConnectorOptions['async'] | ((origin: string) => HttpConnectorOptions['async'])) {
  const remote = await startAsyncService(service);
  const async = typeof asyncOptions === 'function' ? asyncOptions(remote.origin) : asyncOptions;
  const hub = await testHub();
  const recording = await testRecording(hub);
  const connector = { ...httpConnector({ id: 'async-1', url: remote.jobsUrl, healthIntervalMs: null, async }), restartDelayMs: 20 };
  await testWorker(hub, { id: 'w1', simulations: 0, connectors: [connector], progressIntervalMs: 1 });
  return { remote, hub, recording };
}

describe('the http connector with async jobs', () => {
  it('polls the status URL the service gave until it is done, reporting its progress; the result is the service\'s', async () => {
    const { remote, hub, recording } = await setup({ steps: [RUNNING, { status: 'running', progress: 80 }, DONE] }, { mode: 'poll', pollIntervalMs: 10 });
    const job = await submit(hub, { type: 'http', payload: { prompt: 'x' } });
    const done = await recording.waitFor(job.id, 'completed');

    expect(context(done).result).toEqual({ url: 'out.png' });
    recording.expect(job.id, 'pending > assigned > running > completed');
    const progress = recording.records(job.id).map((record) => context(record).progress);
    expect(progress).toEqual(expect.arrayContaining([40, 80, 100]));
    expect(remote.requests.filter((line) => line !== 'GET /health')).toEqual(['POST /jobs', 'GET /jobs/1', 'GET /jobs/1', 'GET /jobs/1']);
  });

  it('fails the attempt with the service\'s error when the status says failed', async () => {
    const { hub, recording } = await setup({ steps: [RUNNING, { status: 'failed', error: { message: 'GPU out of memory' } }] }, { mode: 'poll', pollIntervalMs: 10 });
    const job = await submit(hub, { type: 'http', maxAttempts: 1 });
    const failed = await recording.waitFor(job.id, 'failed');
    expect(context(failed).error).toEqual({ message: 'GPU out of memory' });
  });

  it('takes the outcome from the service\'s callback to the worker, with progress, and polls nothing without a status URL', async () => {
    const { remote, hub, recording } = await setup({ steps: [RUNNING, DONE], giveStatusUrl: false }, { mode: 'callback' });
    const job = await submit(hub, { type: 'http' });
    const done = await recording.waitFor(job.id, 'completed');

    expect(context(done).result).toEqual({ url: 'out.png' });
    expect(recording.records(job.id).map((record) => context(record).progress)).toContain(40);
    expect(remote.submitted[0]!.callbackUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callbacks\/[0-9a-f]{32}$/);
    expect(remote.requests.filter((line) => line !== 'GET /health')).toEqual(['POST /jobs']);
    expect(remote.callbackAnswers).toEqual([204, 204]);
    // The job is over: the callback URL is no longer open.
    const late = await fetch(remote.submitted[0]!.callbackUrl as string, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(DONE) });
    expect(late.status).toBe(404);
  });

  it('tells the service when the job is cancelled (cancelUrl), and stops polling', async () => {
    const { remote, hub, recording } = await setup({ steps: [RUNNING] }, (origin) => ({ mode: 'poll', pollIntervalMs: 10, cancelUrl: `${origin}/jobs/{id}/cancel` }));
    const job = await submit(hub, { type: 'http' });
    await recording.waitFor(job.id, (record) => context(record).progress === 40);
    expect((await api(hub, 'POST', `/api/jobs/${job.id}/cancel`)).status).toBe(200);
    await recording.waitFor(job.id, 'cancelled');
    await expect.poll(() => remote.requests.includes('POST /jobs/1/cancel')).toBe(true);
    const reads = remote.requests.filter((line) => line.startsWith('GET')).length;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(remote.requests.filter((line) => line.startsWith('GET')).length).toBe(reads);
  });

  it('reads the service\'s own field names, a status URL template and fractions of 1', async () => {
    const { remote, hub, recording } = await setup(
      { steps: [{ state: 'busy', done_part: 0.5 }, { state: 'ok', output: [1, 2] }], fields: { id: 'job_id' }, giveStatusUrl: false },
      (origin) => ({
        mode: 'poll',
        pollIntervalMs: 10,
        statusUrl: `${origin}/jobs/{id}`,
        progressScale: 1,
        fields: { id: 'job_id', status: 'state', progress: 'done_part', result: 'output' },
        doneStatuses: ['ok'],
      }),
    );
    const job = await submit(hub, { type: 'http' });
    const done = await recording.waitFor(job.id, 'completed');
    expect(context(done).result).toEqual([1, 2]);
    expect(remote.requests).toContain('GET /jobs/1');
    expect(recording.records(job.id).map((record) => context(record).progress)).toContain(50);
  });

  it('counts a status store that keeps failing as a service fault: the connector restarts and the job is tried again', async () => {
    const { hub, recording } = await setup({ steps: [RUNNING, DONE], failReads: { from: 1, count: 3 } }, { mode: 'poll', pollIntervalMs: 10 });
    const job = await submit(hub, { type: 'http', backoffMs: 10 });
    const done = await recording.waitFor(job.id, 'completed');
    expect(context(done).attempts).toBe(2);
    expect(recording.states('async-1')).toEqual(expect.arrayContaining(['error', 'starting', 'idle']));
  });
});
