/**
 * Failures a connector says cannot be helped by trying again (PermanentError) skip the job's
 * remaining attempts and keep their code; progress may carry a short message.
 */
import { describe, expect, it } from 'vitest';
import type { ActorRecord } from 'statehub';
import { PermanentError, type ConnectorImplementation } from 'statehub/worker';
import { submit, testHub, testRecording, testWorker } from '../helpers/hub.js';

const context = (record: ActorRecord) => record.snapshot.context as Record<string, any>;

function failing(error: () => Error): ConnectorImplementation {
  return { type: 'strict', async run() {
    throw error();
  } };
}

describe('a permanent failure', () => {
  it('fails the job at its first attempt with the code and the service\'s message; the connector stays idle', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    await testWorker(hub, { id: 'w1', simulations: 0, connectors: [failing(() => new PermanentError('content refused by the model', { code: 'content_refused' }))] });
    const job = await submit(hub, { type: 'strict', maxAttempts: 5 });

    const failed = await recording.waitFor(job.id, 'failed');
    recording.expect(job.id, 'pending > assigned > running > failed');
    expect(context(failed)).toMatchObject({ attempts: 1, error: { message: 'content refused by the model', code: 'content_refused' } });
    const connectorId = context(failed).connectorId as string;
    expect(recording.states(connectorId).at(-1)).toBe('idle');
  });

  it('that is also a service fault (e.g. refused credentials) sends the connector to error as well', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    await testWorker(hub, { id: 'w1', simulations: 0, connectors: [{ ...failing(() => new PermanentError('invalid API key', { code: 'auth', serviceFault: true })), restartDelayMs: 60_000 }] });
    const job = await submit(hub, { type: 'strict', maxAttempts: 5 });

    const failed = await recording.waitFor(job.id, 'failed');
    expect(context(failed)).toMatchObject({ attempts: 1, error: { message: 'invalid API key', code: 'auth' } });
    const connector = await recording.waitFor(context(failed).connectorId as string, 'error');
    expect(context(connector).error).toEqual({ message: 'invalid API key', code: 'auth' });
  });

  it('is told apart from an ordinary failure, which is retried, and keeps a system error\'s code', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });
    await testWorker(hub, { id: 'w1', simulations: 0, connectors: [failing(() => refused)] });
    const job = await submit(hub, { type: 'strict', maxAttempts: 2, backoffMs: 1 });

    const failed = await recording.waitFor(job.id, 'failed');
    expect(context(failed)).toMatchObject({ attempts: 2, error: { message: 'connect ECONNREFUSED 127.0.0.1:9', code: 'ECONNREFUSED' } });
  });

  it('of the simulation connector (permanent: true) fails its job at once with code simulated', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    await testWorker(hub, { id: 'w1' });
    const job = await submit(hub, { type: 'simulation', maxAttempts: 3, payload: { durationMs: 1, failTimes: 1, failWith: 'no such model', permanent: true } });
    const failed = await recording.waitFor(job.id, 'failed');
    expect(context(failed)).toMatchObject({ attempts: 1, error: { message: 'no such model', code: 'simulated' } });
  });
});

describe('a progress message', () => {
  it('is in the job record beside the progress it came with, cut to 200 characters, and cleared when the job completes', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    const talker: ConnectorImplementation = {
      type: 'talker',
      async run(_job, { progress }) {
        progress(30, 'node 3 of 10: KSampler');
        await new Promise((resolve) => setTimeout(resolve, 50));
        progress(60, `${'x'.repeat(198)}😀 and more`);
        await new Promise((resolve) => setTimeout(resolve, 50));
        return 'ok';
      },
    };
    await testWorker(hub, { id: 'w1', simulations: 0, connectors: [talker], progressIntervalMs: 1 });
    const job = await submit(hub, { type: 'talker' });
    const done = await recording.waitFor(job.id, 'completed');

    const running = recording.records(job.id).filter((record) => record.state === 'running').map(context);
    expect(running.map((item) => [item.progress, item.progressMessage])).toContainEqual([30, 'node 3 of 10: KSampler']);
    const long = running.find((item) => item.progress === 60)!.progressMessage as string;
    expect(long).toHaveLength(199);
    expect(long.endsWith('…')).toBe(true);
    expect(long).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
    expect(context(done)).toMatchObject({ progress: 100, progressMessage: null });
  });
});
