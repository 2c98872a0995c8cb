/**
 * The worker protocol's sessions, spoken by hand over socket.io-client (as a worker written in
 * another language would): what a resumed session keeps, sends again, revokes and takes back,
 * and what the hub checks whatever the worker sends.
 */
import pino from 'pino';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { ActorRecord, Hub } from 'statehub';
import { submit, testHub, testRecording } from '../helpers/hub.js';
import { RawWorker, idleSnapshot } from '../helpers/raw-worker.js';

const context = (record: ActorRecord) => record.snapshot.context as Record<string, any>;

/** A hand-spoken worker, closed when the test ends; calls take one payload. */
interface Speaker {
  raw: RawWorker;
  /** Job ids of the assignments received, in order. */
  assigned: string[];
  call(event: string, payload?: unknown): Promise<any>;
  /** Resolves with the job ids of the next assignment batch. */
  nextAssignment(): Promise<string[]>;
}

async function connect(hub: Hub): Promise<Speaker> {
  const raw = await RawWorker.connect(hub.url);
  onTestFinished(() => raw.close());
  const waiting: Array<(ids: string[]) => void> = [];
  raw.socket.on('job:assign', (batch: Array<{ jobId: string }>) => waiting.shift()?.(batch.map((item) => item.jobId)));
  return {
    raw,
    get assigned() {
      return raw.assignments.map((assignment) => assignment.jobId);
    },
    call: (event, payload = {}) => raw.call(event, [payload]),
    nextAssignment: () => new Promise((resolve) => waiting.push(resolve)),
  };
}

/** Drops the connection the way a network cut does (no goodbye from the worker). */
function cut(worker: Speaker): void {
  worker.raw.cut();
}

describe('a resumed session', () => {
  it('keeps what the worker holds, sends again an assignment it never received, revokes what is not its own, and takes back a running job it lost', async () => {
    const hub = await testHub({ timings: { heartbeatMs: 1_000, staleAfterMs: 10_000, offlineAfterMs: 10_000 } });
    const recording = await testRecording(hub);
    const connectors = [
      { id: 'raw/c1', type: 'raw', snapshot: await idleSnapshot('raw/c1', 'raw') },
      { id: 'raw/c2', type: 'raw', snapshot: await idleSnapshot('raw/c2', 'raw') },
    ];
    const first = await connect(hub);
    const opened = await first.call('register', { workerId: 'raw', machineId: 'm', connectors });
    expect(opened).toMatchObject({ resumed: false, revoked: [], limits: { maxResultBytes: 1_048_576 } });

    const firstAssignment = first.nextAssignment();
    const running = await submit(hub, { type: 'raw', maxAttempts: 2 });
    expect(await firstAssignment).toEqual([running.id]);
    expect(await first.call('job:started', { jobId: running.id, attempt: 1 })).toEqual({ ok: true });
    const secondAssignment = first.nextAssignment();
    const lost = await submit(hub, { type: 'raw' });
    expect(await secondAssignment).toEqual([lost.id]);
    // The worker never got that one (it was on its way when the connection dropped).
    cut(first);

    const second = await connect(hub);
    const resent = second.nextAssignment();
    const resumed = await second.call('register', {
      workerId: 'raw',
      machineId: 'm',
      connectors,
      resume: { sessionId: opened.sessionId, jobs: [{ jobId: running.id, connectorId: context(await recording.waitFor(running.id, 'running')).connectorId }, { jobId: 'job_unknown', connectorId: 'raw/c1' }] },
    });
    expect(resumed).toMatchObject({ sessionId: opened.sessionId, resumed: true, revoked: ['job_unknown'] });
    expect(await resent).toEqual([lost.id]);
    expect(recording.view.get(running.id)?.state).toBe('running');

    // Back once more, now holding nothing: the running job it lost is retried, the assignment sent again.
    cut(second);
    const third = await connect(hub);
    const again = await third.call('register', { workerId: 'raw', machineId: 'm', connectors, resume: { sessionId: opened.sessionId, jobs: [] } });
    expect(again).toMatchObject({ resumed: true, revoked: [] });
    await expect.poll(() => third.assigned).toContain(lost.id);
    const retried = await recording.waitFor(running.id, (record) => record.state !== 'running');
    expect(context(retried).error.message).toBe('worker raw no longer ran it when it reconnected');
    recording.expect('raw', 'ready > busy');
    recording.expect(lost.id, 'pending > assigned');
  });

  it('is refused once the worker was stale: a new session, every job it reported revoked', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    const connectors = [{ id: 'late/c1', type: 'raw', snapshot: await idleSnapshot('late/c1', 'raw') }];
    const first = await connect(hub);
    const opened = await first.call('register', { workerId: 'late', machineId: 'm', connectors });
    const assignment = first.nextAssignment();
    const job = await submit(hub, { type: 'raw' });
    await assignment;
    await first.call('job:started', { jobId: job.id, attempt: 1 });
    cut(first);
    await recording.waitFor('late', 'stale');

    const second = await connect(hub);
    const answer = await second.call('register', { workerId: 'late', machineId: 'm', connectors, resume: { sessionId: opened.sessionId, jobs: [{ jobId: job.id, connectorId: 'late/c1' }] } });
    expect(answer.resumed).toBe(false);
    expect(answer.sessionId).not.toBe(opened.sessionId);
    expect(answer.revoked).toEqual([job.id]);
  });
});

describe('how a connection ends', () => {
  it('a worker closing its own connection has left: offline at once; a dropped connection is judged by the heartbeat window', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    const leaving = await connect(hub);
    await leaving.call('register', { workerId: 'leaving', machineId: 'm1', connectors: [] });
    const dropped = await connect(hub);
    await dropped.call('register', { workerId: 'dropped', machineId: 'm2', connectors: [] });

    leaving.raw.socket.disconnect();
    cut(dropped);
    await recording.waitFor('leaving', 'offline');
    await recording.waitFor('dropped', 'offline');
    recording.expect('leaving', 'ready > offline');
    recording.expect('dropped', 'ready > stale > offline');
  });
});

describe('what the hub checks whatever a worker sends', () => {
  it('fails a job whose result is over --max-result-bytes, and says so', async () => {
    const hub = await testHub({ maxResultBytes: 10_000 });
    const recording = await testRecording(hub);
    const worker = await connect(hub);
    const opened = await worker.call('register', { workerId: 'raw', machineId: 'm', connectors: [{ id: 'raw/c1', type: 'raw', snapshot: await idleSnapshot('raw/c1', 'raw') }] });
    expect(opened.limits).toEqual({ maxResultBytes: 10_000, maxMessageBytes: 10_000 + 1_048_576 });
    const assignment = worker.nextAssignment();
    const job = await submit(hub, { type: 'raw' });
    await assignment;
    await worker.call('job:started', { jobId: job.id, attempt: 1 });
    expect(await worker.call('job:completed', { jobId: job.id, attempt: 1, result: { text: 'r'.repeat(20_000) } })).toEqual({ ok: true });

    const failed = await recording.waitFor(job.id, 'failed');
    expect(context(failed)).toMatchObject({ attempts: 1, result: null });
    expect(context(failed).error.message).toBe('the result is 19.5 KiB (20,011 bytes), over the limit of 9.8 KiB (10,000 bytes) (--max-result-bytes)');
  });
});

describe('a job report', () => {
  it('of an attempt the hub moved on from, or from a worker not holding the job, is refused, logged and never applied', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => lines.push(line) });
    const hub = await testHub({ logger });
    const recording = await testRecording(hub);
    const holder = await connect(hub);
    await holder.call('register', { workerId: 'holder', machineId: 'm', connectors: [{ id: 'holder/c1', type: 'raw', snapshot: await idleSnapshot('holder/c1', 'raw') }] });
    const first = holder.nextAssignment();
    const job = await submit(hub, { type: 'raw', timeoutMs: 200, maxAttempts: 2, backoffMs: 10 });
    await first;
    const second = holder.nextAssignment();
    expect(await holder.call('job:started', { jobId: job.id, attempt: 1 })).toEqual({ ok: true });
    // Attempt 1 times out; attempt 2 comes back to the same worker and connector.
    await second;
    await recording.waitFor(job.id, (record) => record.state === 'assigned' && context(record).attempts === 2);

    const late = await holder.call('job:completed', { jobId: job.id, attempt: 1, result: 'late' });
    expect(late).toEqual({ ok: false, reason: `job ${job.id} is on attempt 2, not 1` });
    const stranger = await connect(hub);
    await stranger.call('register', { workerId: 'stranger', machineId: 'm2', connectors: [] });
    expect(await stranger.call('job:completed', { jobId: job.id, attempt: 2, result: 'forged' })).toEqual({ ok: false, reason: `job ${job.id} is leased to worker holder` });
    expect(recording.view.get(job.id)).toMatchObject({ state: 'assigned', snapshot: { context: { attempts: 2, result: null } } });
    const refusals = lines.map((line) => JSON.parse(line)).filter((entry) => entry.msg === 'refused a job report');
    expect(refusals).toEqual([
      expect.objectContaining({ workerId: 'holder', jobId: job.id, attempt: 1, report: 'COMPLETE', reason: `job ${job.id} is on attempt 2, not 1` }),
      expect.objectContaining({ workerId: 'stranger', jobId: job.id, attempt: 2, report: 'COMPLETE', reason: `job ${job.id} is leased to worker holder` }),
    ]);

    expect(await holder.call('job:started', { jobId: job.id, attempt: 2 })).toEqual({ ok: true });
    expect(await holder.call('job:completed', { jobId: job.id, attempt: 2, result: 'fresh' })).toEqual({ ok: true });
    expect(context(await recording.waitFor(job.id, 'completed'))).toMatchObject({ attempts: 2, result: 'fresh' });
  });
});
