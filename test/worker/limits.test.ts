/**
 * Size limits between worker and hub: a large result fails its own job with a message naming
 * the size and the limit, and never costs the worker its connection (nor another job its attempt).
 */
import { describe, expect, it } from 'vitest';
import type { ActorRecord } from 'statehub';
import { httpConnector, simulationConnector, type ConnectorImplementation } from 'statehub/worker';
import { deferred } from '../helpers/connectors.js';
import { submit, testHub, testRecording, testWorker } from '../helpers/hub.js';
import { startService } from '../helpers/http-service.js';

const context = (record: ActorRecord) => record.snapshot.context as Record<string, any>;

describe('a result over the limit', () => {
  it('fails its job (not retried) with its size and the limit; the worker keeps its connection and its other job completes', async () => {
    const service = await startService();
    // 1.5 MB of JSON, over the default limit of 1 MiB.
    service.answerJob = () => ({ status: 200, body: { text: 'x'.repeat(1_500_000) } });
    const hub = await testHub();
    const recording = await testRecording(hub);
    const lines: string[] = [];
    await testWorker(hub, {
      id: 'w4',
      machineId: 'm4',
      connectors: [httpConnector({ url: service.jobsUrl, id: 'w4-http', healthIntervalMs: null }), simulationConnector({ id: 'w4-sim', startupMs: 1 })],
      log: (line) => lines.push(line),
    });
    const other = await submit(hub, { type: 'simulation', payload: { durationMs: 1_000, steps: 4 } });
    await recording.waitFor(other.id, 'running');
    const big = await submit(hub, { type: 'http', maxAttempts: 3 });

    const failed = await recording.waitFor(big.id, 'failed');
    expect(context(failed).attempts).toBe(1);
    expect(context(failed).error.message).toMatch(/^the result is 1\.4 MiB \(1,500,011 bytes\), over the limit of 1 MiB \(1,048,576 bytes\)/);
    recording.expect(big.id, 'pending > assigned > running > failed');

    const done = await recording.waitFor(other.id, 'completed');
    expect(context(done)).toMatchObject({ attempts: 1, workerId: 'w4' });
    // The connector that ran it goes on serving; the worker never lost its connection.
    await recording.waitFor('w4-http', 'idle');
    recording.expect('w4-http', 'starting > idle > active > idle');
    expect(recording.states('w4')).not.toContain('stale');
    expect(lines.filter((line) => /disconnected/.test(line))).toEqual([]);
  });

  it('follows the limit the hub was started with (--max-result-bytes), which the worker learns when it registers', async () => {
    const hub = await testHub({ maxResultBytes: 10_000 });
    const recording = await testRecording(hub);
    await testWorker(hub, { id: 'w1', connectors: [returning('big', () => ({ text: 'y'.repeat(20_000) })), returning('small', () => ({ text: 'fine' }))] });
    const big = await submit(hub, { type: 'big' });
    const small = await submit(hub, { type: 'small' });
    const failed = await recording.waitFor(big.id, 'failed');
    expect(context(failed).error.message).toMatch(/^the result is 19\.5 KiB \(20,011 bytes\), over the limit of 9\.8 KiB \(10,000 bytes\)/);
    expect(context(await recording.waitFor(small.id, 'completed')).result).toEqual({ text: 'fine' });
  });

  it('does not cost the worker its connection when many results together outgrow one message: the reports are split', async () => {
    // Each result fits; 20 finishing in the same turn (1.8 MB) do not fit in one message of 1.1 MiB.
    const hub = await testHub({ maxResultBytes: 100_000 });
    const recording = await testRecording(hub);
    const gate = deferred<void>();
    let started = 0;
    const allStarted = deferred<void>();
    const connector: ConnectorImplementation = {
      type: 'gated',
      async run() {
        if (++started === 20) allStarted.resolve();
        await gate.promise;
        return { text: 'z'.repeat(90_000) };
      },
    };
    const lines: string[] = [];
    await testWorker(hub, { id: 'wide', connectors: Array.from({ length: 20 }, () => connector), log: (line) => lines.push(line) });
    const jobs = await Promise.all(Array.from({ length: 20 }, () => submit(hub, { type: 'gated', maxAttempts: 1 })));
    await allStarted.promise;
    gate.resolve();

    for (const job of jobs) expect(context(await recording.waitFor(job.id, 'completed')).attempts).toBe(1);
    expect(lines.filter((line) => /disconnected/.test(line))).toEqual([]);
  });
});

describe('an error message of any length', () => {
  it('is cut to 10,000 characters with a note, and the failure reaches the hub', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    await testWorker(hub, {
      id: 'talkative',
      connectors: [
        {
          type: 'verbose',
          async run() {
            throw new Error('e'.repeat(50_000));
          },
        },
      ],
    });
    const job = await submit(hub, { type: 'verbose', maxAttempts: 1 });
    const failed = await recording.waitFor(job.id, 'failed');
    const message = context(failed).error.message as string;
    expect(message.length).toBeLessThanOrEqual(10_000);
    expect(message).toMatch(/^e+ … \(40,?\d{3} more characters\)$/);
  });
});

function returning(type: string, result: () => unknown): ConnectorImplementation {
  return { type, run: async () => result() as never };
}
