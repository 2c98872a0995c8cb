/**
 * Every record says when its actor entered its current state (`stateSince`), set by the step
 * that computed the change: it moves when the top-level state does, and only then.
 */
import { describe, expect, it } from 'vitest';
import type { ActorRecord } from 'statehub';
import type { ConnectorImplementation } from 'statehub/worker';
import { api, submit, testHub, testRecording, testWorker } from '../helpers/hub.js';

/** Every record seen of `id`, with its state, when it was committed and its stateSince. */
function timeline(records: ActorRecord[]): Array<[string, string, string | undefined]> {
  return records.map((record) => [record.state, record.updatedAt, record.stateSince]);
}

/** Checks the rule over a sequence of records: stateSince is updatedAt when the state changed, else the one before. */
function expectStateSince(records: ActorRecord[]): void {
  records.forEach((record, index) => {
    const previous = records[index - 1];
    const entered = !previous || previous.state !== record.state;
    expect(record.stateSince, `${record.id} seq ${record.seq}: ${JSON.stringify(timeline(records))}`).toBe(entered ? record.updatedAt : previous.stateSince);
  });
}

describe('stateSince', () => {
  it('stays while an actor changes without changing state: a machine gaining workers, a connector whose latency moves, a job reporting progress', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    let checks = 0;
    const drifting: ConnectorImplementation = { type: 'drift', id: 'drift', healthIntervalMs: 20, checkHealth: async () => ({ latencyMs: Math.min(++checks, 5) }), run: async () => null };
    await testWorker(hub, { id: 'w1', machineId: 'box', connectors: [drifting] });
    await testWorker(hub, { id: 'w2', machineId: 'box' });
    const job = await submit(hub, { type: 'simulation', payload: { durationMs: 200, steps: 4 } });
    await recording.waitFor(job.id, 'completed');
    await recording.until(() => checks >= 5 && recording.records('drift').length >= 5, 'the latency to move a few times');

    for (const id of ['box', 'drift', job.id, 'w1', 'w2']) expectStateSince(recording.records(id));
    // The cases that matter: changes that kept the state.
    const idle = recording.records('drift').filter((record) => record.state === 'idle');
    expect(new Set(idle.map((record) => record.updatedAt)).size).toBeGreaterThan(1);
    expect(new Set(idle.map((record) => record.stateSince)).size).toBe(1);
    const ready = recording.records('box').filter((record) => record.state === 'ready');
    expect(ready.map((record) => record.snapshot.context.workers)).toEqual([1, 2]);
    expect(ready[1]?.stateSince).toBe(ready[0]?.updatedAt);
    const running = recording.records(job.id).filter((record) => record.state === 'running');
    expect(running.length).toBeGreaterThan(2);
    expect(new Set(running.map((record) => record.stateSince))).toEqual(new Set([running[0]?.updatedAt]));
  });

  it('is kept by a removal, and starts over when a removed actor comes back', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    const worker = await testWorker(hub, { id: 'gone', machineId: 'm' });
    await worker.stop();
    const offline = await recording.waitFor('gone', 'offline');
    const removed = (await api(hub, 'DELETE', '/api/actors/gone')).body as ActorRecord;
    expect(removed).toMatchObject({ removed: true, state: 'offline', stateSince: offline.stateSince });

    await testWorker(hub, { id: 'gone', machineId: 'm' });
    const back = await recording.waitFor('gone', 'ready');
    expect(back.stateSince).toBe(back.updatedAt);
    expect(back.seq).toBe(removed.seq + 1);
  });
});
