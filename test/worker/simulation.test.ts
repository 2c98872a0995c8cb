import { describe, expect, it } from 'vitest';
import type { ActorRecord } from 'statehub';
import { simulationConnector, simulationPayloadSchema, type JobRun } from 'statehub/worker';
import { submit, testHub, testRecording, testWorker } from '../helpers/hub.js';

const context = (record: ActorRecord) => record.snapshot.context as Record<string, any>;

const jobRun = (payload: JobRun['payload'], attempt = 1): JobRun => ({
  id: 'job_local',
  type: 'simulation',
  payload,
  attempt,
  maxAttempts: 3,
  timeoutMs: null,
});

describe('the simulation connector on its own', () => {
  it('reports `steps` progress updates, evenly spread, ending at 100, then resolves with a result', async () => {
    const connector = simulationConnector();
    const seen: number[] = [];
    const result = await connector.run(jobRun({ durationMs: 20, steps: 4 }), {
      signal: new AbortController().signal,
      progress: (percent) => seen.push(percent),
    });
    expect(seen).toEqual([25, 50, 75, 100]);
    expect(result).toMatchObject({ attempt: 1, steps: 4 });
  });

  it('fails its first failTimes attempts with failWith, then completes', async () => {
    const connector = simulationConnector();
    const payload = { durationMs: 1, steps: 1, failTimes: 2, failWith: 'not yet' };
    const context = { signal: new AbortController().signal, progress: () => {} };
    await expect(connector.run(jobRun(payload, 1), context)).rejects.toThrow('not yet');
    await expect(connector.run(jobRun(payload, 2), context)).rejects.toThrow('not yet');
    await expect(connector.run(jobRun(payload, 3), context)).resolves.toMatchObject({ attempt: 3 });
  });

  it('stops when its signal fires', async () => {
    const connector = simulationConnector();
    const controller = new AbortController();
    const seen: number[] = [];
    const run = connector.run(jobRun({ durationMs: 60_000, steps: 60 }), { signal: controller.signal, progress: (percent) => seen.push(percent) });
    controller.abort(new Error('stop it'));
    await expect(run).rejects.toThrow();
    expect(seen).toEqual([]);
  });

  it('rejects an invalid payload with a message naming the field', async () => {
    const connector = simulationConnector();
    const context = { signal: new AbortController().signal, progress: () => {} };
    await expect(connector.run(jobRun({ steps: -1 }), context)).rejects.toThrow(/invalid simulation payload.*steps/s);
    await expect(connector.run(jobRun({ durationMs: 'soon' }), context)).rejects.toThrow(/invalid simulation payload.*durationMs/s);
    await expect(connector.run(jobRun('not an object'), context)).rejects.toThrow(/invalid simulation payload/);
  });

  it('applies its defaults to a missing payload', () => {
    expect(simulationPayloadSchema.parse(undefined)).toEqual({ durationMs: 1_000, steps: 10, failTimes: 0, failWith: 'simulated failure', permanent: false });
    expect(simulationPayloadSchema.parse({ steps: 3 })).toEqual({ durationMs: 1_000, steps: 3, failTimes: 0, failWith: 'simulated failure', permanent: false });
  });

  it('answers its health check with a latency', async () => {
    const report = await simulationConnector({ startupMs: 1 }).checkHealth!(new AbortController().signal);
    expect(report).toEqual({ latencyMs: expect.any(Number) });
  });
});

describe('simulation jobs through a hub', () => {
  it('shows intermediate progress while running and reaches 100', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    await testWorker(hub, { id: 'w', progressIntervalMs: 1 });
    const job = await submit(hub, { type: 'simulation', payload: { durationMs: 400, steps: 4 } });

    const done = await recording.waitFor(job.id, 'completed');
    expect(context(done)).toMatchObject({ progress: 100, result: { attempt: 1, steps: 4 } });
    const progress = recording
      .records(job.id)
      .filter((record) => record.state === 'running')
      .map((record) => context(record).progress as number);
    expect(progress.some((value) => value > 0 && value < 100)).toBe(true);
    for (const value of progress) expect([0, 25, 50, 75, 100]).toContain(value);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
  });

  it('fails its first failTimes attempts with failWith, then completes with a result', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    await testWorker(hub);
    const job = await submit(hub, { type: 'simulation', backoffMs: 5, maxAttempts: 3, payload: { durationMs: 1, steps: 1, failTimes: 2, failWith: 'warming up' } });

    const done = await recording.waitFor(job.id, 'completed');
    recording.expect(job.id, 'pending > assigned > running > retrying > pending > assigned > running > retrying > pending > assigned > running > completed');
    const errors = recording
      .records(job.id)
      .filter((record) => record.state === 'retrying')
      .map((record) => context(record).error);
    expect(errors).toEqual([{ message: 'warming up' }, { message: 'warming up' }]);
    expect(context(done)).toMatchObject({ attempts: 3, error: null, result: { attempt: 3, steps: 1, durationMs: expect.any(Number) } });
  });

  it('fails a job whose payload is invalid at once, with a clear message and code bad_input: trying again cannot help', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    await testWorker(hub);
    const job = await submit(hub, { type: 'simulation', maxAttempts: 3, payload: { steps: -1 } });

    const failed = await recording.waitFor(job.id, 'failed');
    recording.expect(job.id, 'pending > assigned > running > failed');
    expect(context(failed).attempts).toBe(1);
    expect(context(failed).error.code).toBe('bad_input');
    expect(context(failed).error.message).toMatch(/^invalid simulation payload/);
    expect(context(failed).error.message).toContain('steps');
  });
});
