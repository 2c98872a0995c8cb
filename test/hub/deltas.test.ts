/**
 * Deltas: a monitor that asks (`deltas: true`) gets each live change as a patch against the
 * actor's previous record; the patch rebuilds exactly the record the hub committed, large fields
 * travel only when they change, and anyone else still gets whole records.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyDelta, DeltaBaseError, Monitor, toDelta, View, type ActorRecord, type DeltaEntry, type Snapshot, type StreamEntry } from 'statehub';
import { api, byId, snapshot, testHub, testWorker } from '../helpers/hub.js';
import { connectMonitor, type MonitorClient } from '../helpers/streams.js';

const key = fc.oneof(fc.constantFrom('a', 'b', 'seq', 'a/b', '~0', '~1x', '__proto__', 'constructor', ''), fc.string({ maxLength: 4 }));
const json = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constantFrom(null, true, false, 0, 1, -1.5, '', 'x'),
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(key, tie('value'), { maxKeys: 4 }),
  ),
})).value;
const body = fc.dictionary(key, json, { maxKeys: 5 });

/** Two consecutive records of one actor, with arbitrary (JSON) contents beside the fields every record has. */
const consecutive = fc.tuple(body, body, fc.nat({ max: 1_000 })).map(([before, after, seq]) => {
  const base = JSON.parse(JSON.stringify({ ...before, id: 'actor', seq })) as ActorRecord;
  const next = JSON.parse(JSON.stringify({ ...after, id: 'actor', seq: seq + 1 })) as ActorRecord;
  return [base, next] as const;
});

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

describe('a delta', () => {
  it('rebuilds the next record from the previous one, whatever their JSON, and leaves the previous one untouched', () => {
    fc.assert(
      fc.property(consecutive, ([base, next]) => {
        const text = JSON.stringify(base);
        // Over the wire, as a monitor gets it.
        const delta = JSON.parse(JSON.stringify(toDelta('o1', deepFreeze(base), next))) as DeltaEntry;
        // toEqual: an own property named `constructor` confuses toStrictEqual's class check.
        expect(applyDelta(base, delta)).toEqual(next);
        expect(JSON.stringify(base)).toBe(text);
      }),
      { numRuns: 2_000 },
    );
  });

  it('names only what changed, and shares what did not with the previous record', () => {
    const payload = { blob: 'x'.repeat(10_000) };
    const base = { id: 'j', kind: 'job', seq: 4, state: 'running', snapshot: { context: { payload, progress: 10 } } } as unknown as ActorRecord;
    const next = { ...base, seq: 5, snapshot: { context: { payload: { blob: 'x'.repeat(10_000) }, progress: 20 } } } as unknown as ActorRecord;
    const delta = toDelta('o5', base, next);
    expect(delta).toEqual({ offset: 'o5', delta: { id: 'j', seq: 5, patch: [['/snapshot/context/progress', 20]] } });
    const rebuilt = applyDelta(base, delta) as unknown as { snapshot: { context: { payload: unknown } } };
    expect(rebuilt.snapshot.context.payload).toBe(payload);
  });

  it('refuses a base that is not the seq before it, or a path that does not fit', () => {
    const base = { id: 'j', seq: 4, snapshot: { context: {} } } as unknown as ActorRecord;
    const entry = (seq: number, patch: DeltaEntry['delta']['patch']): DeltaEntry => ({ offset: 'o', delta: { id: 'j', seq, patch } });
    expect(() => applyDelta(base, entry(6, []))).toThrow(DeltaBaseError);
    expect(() => applyDelta(undefined, entry(5, []))).toThrow(/nothing held/);
    expect(() => applyDelta({ ...base, id: 'other' }, entry(5, []))).toThrow(DeltaBaseError);
    expect(() => applyDelta(base, entry(5, [['/snapshot/missing/x', 1]]))).toThrow(/does not fit/);
    expect(() => applyDelta(base, entry(5, [['no-slash', 1]]))).toThrow(/bad patch path/);
  });
});

/** Records rebuilt from what a raw client received: snapshots, whole records and deltas, in arrival order. */
function viewOf(client: MonitorClient): View {
  const view = new View();
  for (const { event, args } of client.received) {
    if (event === 'snapshot') view.applySnapshot(args[0] as Snapshot);
    if (event !== 'transitions') continue;
    // One by one: a batch may hold several changes of one actor.
    for (const entry of args[0] as StreamEntry[]) {
      view.applyTransitions(['record' in entry ? entry : { offset: entry.offset, record: applyDelta(view.records.get(entry.delta.id), entry) }]);
    }
  }
  return view;
}

const entriesOf = (client: MonitorClient) => client.all<StreamEntry[]>('transitions').flat();

describe('Socket.IO /monitor with deltas: true', () => {
  it('sends live changes as deltas that rebuild the hub snapshot; a monitor that did not ask gets whole records', async () => {
    const hub = await testHub();
    await testWorker(hub, { simulations: 2 });
    const deltas = await connectMonitor(hub, { deltas: true });
    const records = await connectMonitor(hub);
    const { body } = await api(hub, 'POST', '/api/jobs/batch', { jobs: [1, 2, 3].map(() => ({ type: 'simulation', payload: { durationMs: 5, steps: 3 } })) });
    const ids = body.records.map((record: ActorRecord) => record.id) as string[];
    const final = async () => {
      const current = await snapshot(hub);
      return ids.every((id) => current.records.find((record) => record.id === id)?.state === 'completed') ? current : undefined;
    };
    await expect.poll(final, { timeout: 10_000 }).toBeDefined();
    const current = (await final())!;
    for (const client of [deltas, records]) await client.until(() => client.all('transitions').flat().some((entry: { offset: string }) => entry.offset === current.offset), 'the last change');

    const view = viewOf(deltas);
    expect(view.problems).toEqual([]);
    expect(byId(view.records.values())).toEqual(byId(current.records));
    // Every change of an actor the monitor already held came as a delta.
    const sent = entriesOf(deltas);
    expect(sent.filter((entry) => 'delta' in entry).length).toBeGreaterThan(ids.length * 4);
    expect(sent.filter((entry) => 'record' in entry).every((entry) => 'record' in entry && entry.record.seq === 1)).toBe(true);
    expect(entriesOf(records).every((entry) => 'record' in entry)).toBe(true);
  });

  it('does not send a 900 KB payload again on every progress step', async () => {
    const hub = await testHub();
    // Every progress step a report of its own (the SDK coalesces them to 4/s by default).
    await testWorker(hub, { simulations: 2, progressIntervalMs: 0 });
    const monitor = await connectMonitor(hub, { deltas: true });
    const blob = 'p'.repeat(900 * 1024);
    const ids = new Set<string>();
    for (const _ of [1, 2]) ids.add((await api(hub, 'POST', '/api/jobs', { type: 'simulation', payload: { durationMs: 200, steps: 20, blob } })).body.id);
    await monitor.until(() => viewOf(monitor).records.size > 0 && [...ids].every((id) => viewOf(monitor).records.get(id)?.state === 'completed'), 'both jobs completed');

    const ofJobs = entriesOf(monitor).filter((entry) => ids.has('record' in entry ? entry.record.id : entry.delta.id));
    const withPayload = ofJobs.filter((entry) => JSON.stringify(entry).includes(blob));
    // Each job's payload travelled once: in its first record.
    expect(withPayload.map((entry) => 'record' in entry && entry.record.seq)).toEqual([1, 1]);
    expect(ofJobs.length).toBeGreaterThan(2 * 10);
    const bytes = ofJobs.reduce((sum, entry) => sum + JSON.stringify(entry).length, 0);
    expect(bytes).toBeLessThan(3 * blob.length);
    expect(viewOf(monitor).problems).toEqual([]);
  });

  it('gives a filtered monitor deltas of the actors it follows', async () => {
    const hub = await testHub();
    await testWorker(hub);
    const monitor = await connectMonitor(hub, { deltas: true, filter: { kinds: ['job'] } });
    const job = (await api(hub, 'POST', '/api/jobs', { type: 'simulation', payload: { durationMs: 5, steps: 2 } })).body as ActorRecord;
    await monitor.until(() => viewOf(monitor).records.get(job.id)?.state === 'completed', 'the job completed');
    const sent = entriesOf(monitor);
    expect(sent.every((entry) => ('record' in entry ? entry.record.kind : viewOf(monitor).records.get(entry.delta.id)?.kind) === 'job')).toBe(true);
    expect(sent.some((entry) => 'delta' in entry)).toBe(true);
    const current = await snapshot(hub, '?kinds=job');
    expect(byId(viewOf(monitor).records.values())).toEqual(byId(current.records));
  });

  it('a Monitor that gets a delta it cannot follow says so and resyncs with whole records from there', async () => {
    const hub = await testHub();
    await testWorker(hub);
    const job = (await api(hub, 'POST', '/api/jobs', { type: 'unserved' })).body as ActorRecord;
    // A view that lost the job's record: the job's next change, as a delta, has nothing to apply to.
    const held = await snapshot(hub);
    const monitor = new Monitor(hub.url, { resume: { offset: held.offset, records: held.records.filter((record) => record.id !== job.id) } });
    try {
      await expect.poll(() => monitor.state).toBe('live');
      await api(hub, 'POST', `/api/jobs/${job.id}/cancel`);
      await expect.poll(() => monitor.view.records.get(job.id)?.state ?? monitor.view.problems.length, { timeout: 10_000 }).toBeDefined();
      await expect.poll(() => monitor.view.problems.join('\n')).toMatch(new RegExp(`${job.id}: a delta for seq 2 does not follow nothing held`));
      // Resumed from the offset before the delta: the replay brings the change as a whole record.
      await expect.poll(async () => byId(monitor.view.records.values()), { timeout: 10_000 }).toEqual(byId((await snapshot(hub)).records));
    } finally {
      monitor.close();
    }
  });
});
