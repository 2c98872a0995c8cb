import { describe, expect, it } from 'vitest';
import { byId, snapshot, submit, testHub, testRecording, testWorker } from '../helpers/hub.js';

describe('a job through the hub', () => {
  it('runs pending > assigned > running > completed on an idle connector, and the monitor view equals the snapshot', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    const worker = await testWorker(hub, { id: 'w1', simulations: 1 });
    const job = await submit(hub, { type: 'simulation', payload: { durationMs: 30, steps: 3 } });

    await recording.waitFor(job.id, 'completed');
    recording.expect(job.id, 'pending > assigned > running > completed');
    const connectorId = [...worker.connectors.keys()][0]!;
    await recording.waitFor(connectorId, 'idle');
    recording.expect(connectorId, 'starting > idle > active > idle', { prefix: false });

    const current = await snapshot(hub);
    await recording.caughtUp(current);
    expect(byId(recording.view.values())).toEqual(byId(current.records));
    expect(recording.monitor.view.problems).toEqual([]);
  });

  it('retries a failing attempt after its backoff and keeps the error of the failed attempt visible', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    await testWorker(hub);
    const job = await submit(hub, { type: 'simulation', backoffMs: 20, payload: { durationMs: 10, steps: 1, failTimes: 1, failWith: 'boom' } });

    const done = await recording.waitFor(job.id, 'completed');
    recording.expect(job.id, 'pending > assigned > running > retrying > pending > assigned > running > completed');
    expect(done.snapshot.context).toMatchObject({ attempts: 2, error: null, progress: 100 });
    const retrying = recording.records(job.id).find((record) => record.state === 'retrying')!;
    expect(retrying.snapshot.context).toMatchObject({ attempts: 1, error: { message: 'boom' }, workerId: null });
  });
});
