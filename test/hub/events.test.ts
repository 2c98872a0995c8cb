/**
 * Every change is recorded with the event that caused it: in the actor's history
 * (`GET /api/actors/:id/history`), and live for observers that ask (`events: true`); nobody
 * else's stream changes.
 */
import { describe, expect, it } from 'vitest';
import { Monitor, type ViewChange } from 'statehub';
import { api, submit, testHub, testRecording, testWorker } from '../helpers/hub.js';
import { connectMonitor } from '../helpers/streams.js';
import { MAX_EVENT_FIELD_BYTES, recordedEvent } from '../../src/protocol/change-event.js';

async function history(hub: Parameters<typeof api>[0], id: string): Promise<Array<{ offset: string; record: any; event?: any }>> {
  const { status, body } = await api(hub, 'GET', `/api/actors/${encodeURIComponent(id)}/history`);
  expect(status).toBe(200);
  return body.entries;
}

describe('the event of each change', () => {
  it('is in a job\'s history for its whole life: created, assigned, started, progress, completed', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    await testWorker(hub, { id: 'w1' });
    const job = await submit(hub, { type: 'simulation', payload: { durationMs: 30, steps: 3 } });
    await recording.waitFor(job.id, 'completed');

    const entries = await history(hub, job.id);
    expect(entries.map((entry) => entry.record.seq)).toEqual(recording.records(job.id).map((record) => record.seq));
    const events = entries.map((entry) => entry.event);
    expect(events[0]).toEqual({ type: 'xstate.init' });
    expect(events[1]).toMatchObject({ type: 'ASSIGN', workerId: 'w1', connectorId: expect.any(String) });
    expect(events[2]).toMatchObject({ type: 'START' });
    expect(events.at(-1)).toMatchObject({ type: 'COMPLETE' });
    const progress = events.filter((event) => event.type === 'PROGRESS');
    expect(progress.length).toBeGreaterThan(0);
    for (const entry of entries.filter((item) => item.event.type === 'PROGRESS')) expect(entry.record.snapshot.context.progress).toBe(Math.min(100, Math.max(0, entry.event.progress)));
  });

  it('is what the connector actor took in its worker, and the hub\'s own event for presence and removals', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    const worker = await testWorker(hub, { id: 'w1' });
    const job = await submit(hub, { type: 'simulation', payload: { durationMs: 10 } });
    await recording.waitFor(job.id, 'completed');
    const connectorId = recording.records(job.id).at(-1)!.snapshot.context.connectorId as string;
    await recording.waitFor(connectorId, (record) => record.state === 'idle' && record.snapshot.context.jobsDone === 1);

    const connector = (await history(hub, connectorId)).map((entry) => [entry.record.state, entry.event?.type]);
    expect(connector[0]).toEqual(['starting', 'statehub.register']);
    expect(connector).toContainEqual(['idle', expect.stringMatching(/^xstate\.done\.actor\./)]);
    expect(connector).toContainEqual(['active', 'ASSIGN']);
    expect(connector.at(-1)).toEqual(['idle', 'JOB_DONE']);

    const workerEvents = (await history(hub, 'w1')).map((entry) => entry.event?.type);
    expect(workerEvents[0]).toBe('xstate.init');
    await worker.stop();
    await recording.waitFor('w1', 'offline');
    expect((await history(hub, 'w1')).at(-1)!.event.type).toBe('LEAVE');
    expect((await api(hub, 'DELETE', '/api/actors/w1')).status).toBe(200);
    expect((await history(hub, 'w1')).at(-1)).toMatchObject({ record: { removed: true }, event: { type: 'statehub.remove' } });
  });

  it('goes live to monitors that ask for events, as whole records or deltas, and to nobody else', async () => {
    const hub = await testHub();
    const plain = await connectMonitor(hub, {});
    const deltas = await connectMonitor(hub, { deltas: true });
    const inspector = new Monitor(hub.url, { events: true });
    const inspectorDeltas = new Monitor(hub.url, { events: true, deltas: true });
    const heard = new Map<Monitor, ViewChange[]>([
      [inspector, []],
      [inspectorDeltas, []],
    ]);
    for (const [monitor, changes] of heard) monitor.view.subscribe((batch, reset) => reset || changes.push(...batch));
    try {
      await Promise.all([...heard.keys()].map((monitor) => new Promise<void>((resolve) => monitor.onState((state) => state === 'live' && resolve()))));
      const recording = await testRecording(hub);
      await testWorker(hub, { id: 'w1' });
      const job = await submit(hub, { type: 'simulation', payload: { durationMs: 10, steps: 2 } });
      await recording.waitFor(job.id, 'completed');
      const expected = (await history(hub, job.id)).map((entry) => ({ seq: entry.record.seq, event: entry.event }));
      for (const [monitor, changes] of heard) {
        await expect.poll(() => changes.filter((change) => change.record.id === job.id).length).toBe(expected.length);
        expect(changes.filter((change) => change.record.id === job.id).map((change) => ({ seq: change.record.seq, event: change.event }))).toEqual(expected);
        expect(monitor.view.problems).toEqual([]);
      }
      for (const client of [plain, deltas]) {
        await client.until(() => client.all('transitions').flat().some((entry: any) => (entry.record?.id ?? entry.delta?.id) === job.id && (entry.record?.seq ?? entry.delta?.seq) === expected.length), 'the job completed');
        for (const entry of client.all('transitions').flat()) expect(entry).not.toHaveProperty('event');
      }
    } finally {
      for (const monitor of heard.keys()) monitor.close();
    }
  });

  it('replays with events to a monitor that asks for them and resumes with since', async () => {
    const hub = await testHub();
    const first = await connectMonitor(hub, {});
    const since = (await first.synced()).offset;
    const recording = await testRecording(hub);
    await testWorker(hub, { id: 'w1' });
    const job = await submit(hub, { type: 'simulation', payload: { durationMs: 5 } });
    await recording.waitFor(job.id, 'completed');
    const resumed = await connectMonitor(hub, { since, events: true });
    const replayed = resumed.all('transitions').flat().filter((entry: any) => entry.record.id === job.id);
    expect(replayed.map((entry: any) => entry.event)).toEqual((await history(hub, job.id)).map((entry) => entry.event));
    const plain = await connectMonitor(hub, { since });
    for (const entry of plain.all('transitions').flat()) expect(entry).not.toHaveProperty('event');
  });
});

describe('recordedEvent', () => {
  it('keeps small events as they are, and leaves out a field too large to keep twice', () => {
    expect(recordedEvent({ type: 'PROGRESS', progress: 30 } as { type: string })).toEqual({ type: 'PROGRESS', progress: 30 });
    const result = { blob: 'x'.repeat(MAX_EVENT_FIELD_BYTES) };
    const bytes = JSON.stringify(result).length;
    expect(recordedEvent({ type: 'COMPLETE', attempt: 1, result } as { type: string })).toEqual({ type: 'COMPLETE', attempt: 1, result: { omitted: bytes } });
  });

  it('records an Error as its name and message, and an event JSON cannot hold as its type alone', () => {
    expect(recordedEvent({ type: 'xstate.error.actor.0.x', error: new TypeError('boom') } as { type: string })).toEqual({
      type: 'xstate.error.actor.0.x',
      error: { name: 'TypeError', message: 'boom' },
    });
    const cyclic: Record<string, unknown> = { type: 'LOOP' };
    cyclic.self = cyclic;
    expect(recordedEvent(cyclic as { type: string })).toEqual({ type: 'LOOP' });
  });
});
