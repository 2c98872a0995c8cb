/**
 * The live set behind /metrics' gauges and the hooks: read from a snapshot, then kept from the
 * log; changes delivered while it reads are neither lost nor counted twice; after a gap it is read
 * afresh (again and again while the store does not answer).
 */
import { describe, expect, it } from 'vitest';
import { LiveSet, type Group, type Transition } from '../../src/hub/live-set.js';
import type { ActorRecord, LogEntry, Snapshot } from '../../src/protocol/record.js';
import type { Store } from '../../src/store/store.js';

/** A store whose snapshot reads are answered by the test, and whose log and gaps it delivers by hand. */
class ScriptedStore {
  private readonly listeners = new Set<(entries: LogEntry[]) => void>();
  private readonly gapListeners = new Set<() => void>();
  private readonly reads: Array<{ resolve: (snapshot: Snapshot) => void; reject: (error: Error) => void }> = [];

  snapshot(): Promise<Snapshot> {
    return new Promise((resolve, reject) => this.reads.push({ resolve, reject }));
  }
  compareOffsets(a: string, b: string): number {
    return Number(a) - Number(b);
  }
  subscribe(listener: (entries: LogEntry[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  onGap(listener: () => void): () => void {
    this.gapListeners.add(listener);
    return () => this.gapListeners.delete(listener);
  }

  deliver(...entries: LogEntry[]): void {
    for (const listener of this.listeners) listener(entries);
  }
  gap(): void {
    for (const listener of this.gapListeners) listener();
  }
  /** Answers the oldest snapshot read waiting (with `snapshot`, or a failure), once one is. */
  async answer(answer: Snapshot | Error): Promise<void> {
    while (this.reads.length === 0) await new Promise((resolve) => setImmediate(resolve));
    const read = this.reads.shift()!;
    if (answer instanceof Error) read.reject(answer);
    else read.resolve(answer);
  }
}

const job = (id: string, seq: number, state: string, type = 'render'): ActorRecord => ({
  id,
  kind: 'job',
  seq,
  state,
  snapshot: { status: 'active', value: state, context: { type }, children: {} },
  updatedAt: new Date(seq).toISOString(),
});

const at = (offset: number, record: ActorRecord): LogEntry => ({ offset: String(offset), record });

const counts = (live: LiveSet) =>
  Object.fromEntries([...live.groups()].map((group: Group) => [`${group.kind}/${group.state}/${group.type}`, group.count]));

async function opened(store: ScriptedStore, snapshot: Snapshot, during: LogEntry[] = []): Promise<LiveSet> {
  const opening = LiveSet.open(store as unknown as Store, () => {});
  store.deliver(...during);
  await store.answer(snapshot);
  return opening;
}

describe('the live set', () => {
  it('applies the changes delivered while it read only past the snapshot: none lost, none twice', async () => {
    const store = new ScriptedStore();
    // Delivered before the read answered: offset 2 is in the snapshot, offset 3 is not.
    const live = await opened(store, { offset: '2', records: [job('a', 2, 'running'), job('b', 1, 'pending')] }, [at(2, job('a', 2, 'running')), at(3, job('b', 2, 'assigned'))]);
    expect(counts(live)).toEqual({ 'job/running/render': 1, 'job/assigned/render': 1 });

    const told: Transition[] = [];
    live.listen({ change: (transition) => void told.push(transition) });
    store.deliver(at(4, job('a', 3, 'completed')), at(5, { ...job('b', 3, 'assigned'), removed: true }), at(6, job('c', 1, 'pending', 'upscale')));
    expect(counts(live)).toEqual({ 'job/completed/render': 1, 'job/pending/upscale': 1 });
    expect(told.map(({ record, previous }) => `${record.id}:${previous?.state ?? '-'}>${record.removed ? 'removed' : record.state}`)).toEqual(['a:running>completed', 'b:assigned>removed', 'c:->pending']);
  });

  it('is read afresh after a gap, retried while the store does not answer; listeners are reset with it', async () => {
    const store = new ScriptedStore();
    const live = await opened(store, { offset: '1', records: [job('a', 1, 'pending')] });
    const resets: string[][] = [];
    live.listen({ change: () => {}, reset: (records) => void resets.push([...records].map((record) => record.id)) });
    expect(resets).toEqual([['a']]);

    store.gap();
    await store.answer(new Error('the store does not answer'));
    // Meanwhile the log goes on: what comes before the next read's offset is in that read.
    store.deliver(at(8, job('z', 1, 'pending')));
    await store.answer({ offset: '9', records: [job('x', 5, 'running'), job('z', 1, 'pending')] });
    await new Promise((resolve) => setImmediate(resolve));
    expect(counts(live)).toEqual({ 'job/running/render': 1, 'job/pending/render': 1 });
    expect(resets.at(-1)).toEqual(['x', 'z']);
    live.close();
  });
});
