/**
 * The store contract, as one suite every Store implementation runs unchanged (memory now, redis
 * later). It speaks only through the `Store` interface: no peeking at internals, no assumptions
 * about the offset format beyond "an opaque string this store can order".
 *
 * `makeStore` must hand out an isolated, empty store each time it is called (for a shared
 * backend such as Redis: a fresh key prefix); `cleanup` removes whatever it left behind.
 * Delivery to subscribers may be asynchronous, so the suite waits for it (`eventually`) but never
 * asserts how long anything takes.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it, onTestFinished, vi } from 'vitest';
import type { JobContext, Requirements } from '../../machines/job.js';
import type { ActorRecord, Kind, LogEntry } from '../../src/protocol/record.js';
import { meetsRequirements } from '../../src/protocol/requirements.js';
import { ConflictError, TimerGoneError, type Commit, type Store, type StoreOptions, type Timer } from '../../src/store/store.js';

// ---------------------------------------------------------------------------------------------
// Record builders
// ---------------------------------------------------------------------------------------------

const UPDATED_AT = '2025-01-01T00:00:00.000Z';

interface CommonFields {
  id: string;
  seq?: number;
  state?: string;
  parentId?: string;
  removed?: boolean;
  /** Extra context, merged over the defaults. */
  context?: Record<string, unknown>;
}

function baseRecord(kind: Kind, fields: CommonFields, defaultState: string, context: Record<string, unknown>): ActorRecord {
  const state = fields.state ?? defaultState;
  const record: ActorRecord = {
    id: fields.id,
    kind,
    seq: fields.seq ?? 1,
    state,
    snapshot: { status: 'active', value: state, context: { ...context, ...fields.context }, children: {} },
    updatedAt: UPDATED_AT,
  };
  if (fields.parentId !== undefined) record.parentId = fields.parentId;
  if (fields.removed) record.removed = true;
  return record;
}

export interface JobFields extends CommonFields {
  type?: string;
  priority?: number;
  createdAt?: string;
  requirements?: Requirements;
  workerId?: string | null;
}

/** A job record: its queue place and lease come from `state` and the context built here. */
export function jobRecord(fields: JobFields): ActorRecord {
  const context: JobContext = {
    type: fields.type ?? 'render',
    payload: null,
    priority: fields.priority ?? 0,
    requirements: fields.requirements ?? {},
    attempts: 0,
    maxAttempts: 3,
    timeoutMs: null,
    backoffMs: 1_000,
    ackTimeoutMs: 10_000,
    progress: 0,
    progressMessage: null,
    workerId: fields.workerId ?? null,
    connectorId: null,
    result: null,
    error: null,
    createdAt: fields.createdAt ?? '2025-01-01T00:00:00.000Z',
  };
  return baseRecord('job', fields, 'pending', context as unknown as Record<string, unknown>);
}

export function workerRecord(fields: CommonFields): ActorRecord {
  return baseRecord('worker', fields, 'online', { name: fields.id });
}

export function connectorRecord(fields: CommonFields): ActorRecord {
  return baseRecord('connector', fields, 'idle', { type: 'render' });
}

export function machineRecord(fields: CommonFields): ActorRecord {
  return baseRecord('machine', fields, 'online', {});
}

/**
 * The record's next version: seq + 1, with `state`, `parentId` and context changes applied.
 * For a job, `workerId` etc. go in `context`.
 */
export function nextRecord(record: ActorRecord, changes: { state?: string; parentId?: string; context?: Record<string, unknown>; seq?: number } = {}): ActorRecord {
  const state = changes.state ?? record.state;
  const next: ActorRecord = {
    ...record,
    seq: changes.seq ?? record.seq + 1,
    state,
    snapshot: { ...record.snapshot, value: state, context: { ...record.snapshot.context, ...changes.context } },
  };
  if (changes.parentId !== undefined) next.parentId = changes.parentId;
  return next;
}

/** The record's removal: seq + 1, removed: true. */
export function removedRecord(record: ActorRecord): ActorRecord {
  return { ...record, seq: record.seq + 1, removed: true };
}

function timer(key: string, dueAt: number, actorId = 'j1'): Timer {
  return { key, actorId, dueAt, event: { type: 'TICK', key } };
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/** Retries `check` until it passes (for asynchronous delivery); fails with its last error. */
async function eventually(check: () => void | Promise<void>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(5);
    }
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const byId = (records: Iterable<ActorRecord>) => new Map([...records].map((record) => [record.id, record]));
const ids = (records: Iterable<ActorRecord>) => [...records].map((record) => record.id).sort();

/** Applies log entries to a record set the way a monitor does. */
function replay(records: Iterable<ActorRecord>, entries: LogEntry[]): Map<string, ActorRecord> {
  const state = byId(records);
  for (const { record } of entries) {
    if (record.removed) state.delete(record.id);
    else state.set(record.id, record);
  }
  return state;
}

async function expectConflict(promise: Promise<unknown>): Promise<void> {
  await expect(promise).rejects.toBeInstanceOf(ConflictError);
}

const acceptAll = () => true;

// ---------------------------------------------------------------------------------------------
// The suite
// ---------------------------------------------------------------------------------------------

export function describeStoreContract(
  name: string,
  makeStore: (options?: StoreOptions) => Promise<Store>,
  cleanup?: (store: Store) => Promise<void>,
): void {
  describe(`store contract: ${name}`, () => {
    const opened: Store[] = [];

    /** A fresh store, closed (and cleaned up) after the test. */
    async function open(options?: StoreOptions): Promise<Store> {
      const store = await makeStore(options);
      opened.push(store);
      return store;
    }

    async function release(store: Store): Promise<void> {
      try {
        await cleanup?.(store);
      } finally {
        await store.close();
      }
    }

    afterEach(async () => {
      const stores = opened.splice(0);
      for (const store of stores) await release(store);
    });

    /** Everything observable about a store, for "nothing was written" checks. */
    async function observe(store: Store, actorIds: string[], workerIds: string[] = [], types: string[] = []) {
      const snapshot = await store.snapshot();
      return {
        offset: snapshot.offset,
        records: byId(snapshot.records),
        got: await Promise.all(actorIds.map((id) => store.get(id))),
        changes: await store.changesSince(snapshot.offset),
        timers: await store.dueTimers(Number.MAX_SAFE_INTEGER, 1_000),
        nextDueAt: await store.nextDueAt(),
        leases: await Promise.all(workerIds.map(async (id) => (await store.leasesOf(id)).sort())),
        queues: await Promise.all(types.map((type) => store.pendingJobs(type, acceptAll, 1_000))),
      };
    }

    it('answers ping', async () => {
      const store = await open();
      await expect(store.ping()).resolves.toBeUndefined();
    });

    describe('commit and the log', () => {
      it('appends every record to the log at new, increasing offsets and returns the entries', async () => {
        const store = await open();
        const before = (await store.snapshot()).offset;
        const w1 = workerRecord({ id: 'w1' });
        const c1 = connectorRecord({ id: 'c1', parentId: 'w1' });
        const j1 = jobRecord({ id: 'j1' });

        const first = await store.commit({ records: [w1, c1] });
        const second = await store.commit({ records: [j1, nextRecord(w1, { state: 'busy' })] });

        expect(first.map((entry) => entry.record)).toEqual([w1, c1]);
        expect(second.map((entry) => entry.record)).toEqual([j1, nextRecord(w1, { state: 'busy' })]);
        const offsets = [...first, ...second].map((entry) => entry.offset);
        expect(new Set(offsets).size).toBe(offsets.length);
        expect(store.compareOffsets(before, offsets[0]!)).toBeLessThan(0);
        for (let i = 1; i < offsets.length; i++) expect(store.compareOffsets(offsets[i - 1]!, offsets[i]!)).toBeLessThan(0);
        expect(await store.changesSince(before)).toEqual([...first, ...second]);
      });

      it('never reuses an offset, across failed commits and removals', async () => {
        const store = await open();
        const seen: string[] = [];
        let record = workerRecord({ id: 'w1' });
        seen.push(...(await store.commit({ records: [record] })).map((entry) => entry.offset));
        for (let i = 0; i < 5; i++) {
          await expectConflict(store.commit({ records: [nextRecord(record, { seq: record.seq + 2 })] }));
          record = nextRecord(record);
          seen.push(...(await store.commit({ records: [record] })).map((entry) => entry.offset));
        }
        const removed = removedRecord(record);
        seen.push(...(await store.commit({ records: [removed] })).map((entry) => entry.offset));
        seen.push(...(await store.commit({ records: [workerRecord({ id: 'w2' })] })).map((entry) => entry.offset));

        expect(new Set(seen).size).toBe(seen.length);
        for (let i = 1; i < seen.length; i++) expect(store.compareOffsets(seen[i - 1]!, seen[i]!)).toBeLessThan(0);
      });

      it('a commit with no records writes its timers and returns no entries', async () => {
        const store = await open();
        const before = (await store.snapshot()).offset;
        await expect(store.commit({ records: [], setTimers: [timer('t1', 100)] })).resolves.toEqual([]);
        expect(await store.changesSince(before)).toEqual([]);
        expect(await store.nextDueAt()).toBe(100);
      });

      it('accepts seq 1 for a new actor and stored seq + 1 for a known one', async () => {
        const store = await open();
        const w1 = workerRecord({ id: 'w1' });
        await store.commit({ records: [w1] });
        const w1b = nextRecord(w1, { state: 'busy' });
        await store.commit({ records: [w1b] });
        expect(await store.get('w1')).toEqual(w1b);
        expect((await store.get('w1'))?.seq).toBe(2);
      });

      it('rejects a new actor whose first seq is not 1', async () => {
        const store = await open();
        await expectConflict(store.commit({ records: [workerRecord({ id: 'w1', seq: 2 })] }));
        await expectConflict(store.commit({ records: [workerRecord({ id: 'w1', seq: 0 })] }));
        expect(await store.get('w1')).toBeUndefined();
      });

      it('rejects a stale or skipping seq for a known actor', async () => {
        const store = await open();
        const w1 = workerRecord({ id: 'w1' });
        await store.commit({ records: [w1] });
        await expectConflict(store.commit({ records: [nextRecord(w1, { seq: 1, state: 'stale' })] }));
        await expectConflict(store.commit({ records: [nextRecord(w1, { seq: 3, state: 'skipping' })] }));
        expect(await store.get('w1')).toEqual(w1);
      });

      it('takes several records of one actor in one commit when their seqs are consecutive', async () => {
        const store = await open();
        const j1 = jobRecord({ id: 'j1' });
        const j2 = nextRecord(j1, { state: 'assigned', context: { workerId: 'w1' } });
        const j3 = nextRecord(j2, { state: 'running' });
        const entries = await store.commit({ records: [j1, j2, j3] });
        expect(entries.map((entry) => entry.record)).toEqual([j1, j2, j3]);
        expect(await store.get('j1')).toEqual(j3);
        expect(await store.leasesOf('w1')).toEqual(['j1']);
      });

      it('rejects several records of one actor whose seqs skip or repeat', async () => {
        const store = await open();
        const j1 = jobRecord({ id: 'j1' });
        await expectConflict(store.commit({ records: [j1, nextRecord(j1, { seq: 3 })] }));
        await expectConflict(store.commit({ records: [j1, nextRecord(j1, { seq: 1, state: 'running' })] }));
        expect(await store.get('j1')).toBeUndefined();
        expect((await store.snapshot()).records).toEqual([]);
      });

      it('a wrong seq anywhere in a commit writes nothing: no records, no log entries, no timers, no index changes', async () => {
        const store = await open();
        const received: LogEntry[] = [];
        store.subscribe((entries) => received.push(...entries));
        const w1 = workerRecord({ id: 'w1' });
        const j1 = jobRecord({ id: 'j1' });
        const j2 = jobRecord({ id: 'j2', state: 'assigned', workerId: 'w1' });
        const setup = await store.commit({ records: [w1, j1, j2], setTimers: [timer('keep', 500), timer('other', 700)] });
        const before = await observe(store, ['w1', 'j1', 'j2', 'j3'], ['w1', 'w2'], ['render']);

        // Every part valid except the last record's seq.
        const bad: Commit = {
          records: [
            jobRecord({ id: 'j3' }),
            nextRecord(j1, { state: 'assigned', context: { workerId: 'w2' } }),
            nextRecord(j2, { state: 'completed' }),
            nextRecord(w1, { seq: 5, state: 'busy' }),
          ],
          setTimers: [timer('new', 100), timer('keep', 50)],
          clearTimers: ['other'],
        };
        await expectConflict(store.commit(bad));

        expect(await observe(store, ['w1', 'j1', 'j2', 'j3'], ['w1', 'w2'], ['render'])).toEqual(before);
        expect(before.changes).toEqual([]);

        // Subscribers never hear of the failed commit: only the next good one follows the setup.
        const next = await store.commit({ records: [workerRecord({ id: 'w9' })] });
        await eventually(() => expect(received).toEqual([...setup, ...next]));
      });

      it('a failed commit leaves the actor writable at the seq it had', async () => {
        const store = await open();
        const w1 = workerRecord({ id: 'w1' });
        await store.commit({ records: [w1] });
        await expectConflict(store.commit({ records: [nextRecord(w1), workerRecord({ id: 'w2', seq: 3 })] }));
        await expect(store.commit({ records: [nextRecord(w1)] })).resolves.toHaveLength(1);
        expect((await store.get('w1'))?.seq).toBe(2);
        expect(await store.get('w2')).toBeUndefined();
      });
    });

    describe('the clock', () => {
      it('now() reads epoch milliseconds that never go back', async () => {
        const store = await open();
        const readings = Array.from({ length: 1_000 }, () => store.now());
        expect(readings.every((reading, index) => index === 0 || reading >= (readings[index - 1] as number))).toBe(true);
        expect(Math.abs((readings[0] as number) - Date.now())).toBeLessThan(60_000);
      });

      it('refuses a commit stamped before the last one (the log never goes back in time), writing nothing', async () => {
        const store = await open();
        const at = store.now();
        await store.commit({ records: [workerRecord({ id: 'w1' })], at: at + 1_000 });
        const before = await observe(store, ['w1', 'w2']);
        await expectConflict(store.commit({ records: [workerRecord({ id: 'w2' })], at: at + 999 }));
        expect(await observe(store, ['w1', 'w2'])).toEqual(before);
        // Later, or the same time, goes through; and now() has not fallen behind what was stamped.
        await expect(store.commit({ records: [workerRecord({ id: 'w2' })], at: at + 1_000 })).resolves.toHaveLength(1);
      });
    });

    describe('get and the archive', () => {
      it('returns live records, undefined for unknown ids', async () => {
        const store = await open();
        const w1 = workerRecord({ id: 'w1' });
        await store.commit({ records: [w1] });
        expect(await store.get('w1')).toEqual(w1);
        expect(await store.get('nobody')).toBeUndefined();
      });

      it('returns a removed record (removed: true) within archive retention', async () => {
        const store = await open();
        const j1 = jobRecord({ id: 'j1' });
        await store.commit({ records: [j1] });
        const gone = removedRecord(nextRecord(j1, { state: 'completed' }));
        await store.commit({ records: [nextRecord(j1, { state: 'completed' })] });
        await store.commit({ records: [gone] });
        const got = await store.get('j1');
        expect(got).toEqual(gone);
        expect(got?.removed).toBe(true);
        expect(got?.seq).toBe(3);
      });

      it('forgets a removed record once its archive retention has passed', async () => {
        const store = await open({ archiveRetentionMs: 1 });
        const j1 = jobRecord({ id: 'j1' });
        await store.commit({ records: [j1] });
        await store.commit({ records: [removedRecord(j1)] });
        await sleep(30);
        expect(await store.get('j1')).toBeUndefined();
        // A live record is not subject to archive retention.
        await store.commit({ records: [workerRecord({ id: 'w1' })] });
        await sleep(30);
        expect(await store.get('w1')).toEqual(workerRecord({ id: 'w1' }));
      });

      it('keeps at most archiveLimit removed records, dropping the oldest removal first', async () => {
        const store = await open({ archiveLimit: 2 });
        const records = ['a', 'b', 'c', 'd'].map((id) => workerRecord({ id }));
        await store.commit({ records });
        for (const record of records) await store.commit({ records: [removedRecord(record)] });
        expect(await store.get('a')).toBeUndefined();
        expect(await store.get('b')).toBeUndefined();
        expect(await store.get('c')).toEqual(removedRecord(records[2]!));
        expect(await store.get('d')).toEqual(removedRecord(records[3]!));
      });
    });

    describe('snapshot', () => {
      it('returns every live record, latest version, with the offset of the last change', async () => {
        const store = await open();
        const w1 = workerRecord({ id: 'w1' });
        const c1 = connectorRecord({ id: 'c1', parentId: 'w1' });
        const j1 = jobRecord({ id: 'j1' });
        await store.commit({ records: [w1, c1] });
        const last = await store.commit({ records: [j1, nextRecord(c1, { state: 'active' })] });

        const snapshot = await store.snapshot();
        expect(byId(snapshot.records)).toEqual(byId([w1, nextRecord(c1, { state: 'active' }), j1]));
        expect(snapshot.records).toHaveLength(3);
        expect(snapshot.offset).toBe(last[last.length - 1]!.offset);
        expect(await store.changesSince(snapshot.offset)).toEqual([]);
      });

      it('filters by kinds', async () => {
        const store = await open();
        await store.commit({
          records: [machineRecord({ id: 'm1' }), workerRecord({ id: 'w1', parentId: 'm1' }), connectorRecord({ id: 'c1', parentId: 'w1' }), jobRecord({ id: 'j1' })],
        });
        expect(ids((await store.snapshot(['job'])).records)).toEqual(['j1']);
        expect(ids((await store.snapshot(['worker', 'connector'])).records)).toEqual(['c1', 'w1']);
        expect((await store.snapshot(['probe'])).records).toEqual([]);
        expect(ids((await store.snapshot()).records)).toEqual(['c1', 'j1', 'm1', 'w1']);
        expect((await store.snapshot(['job'])).offset).toBe((await store.snapshot()).offset);
      });

      it('drops removed records, and its offset covers the removal', async () => {
        const store = await open();
        const w1 = workerRecord({ id: 'w1' });
        const w2 = workerRecord({ id: 'w2' });
        await store.commit({ records: [w1, w2] });
        const removal = await store.commit({ records: [removedRecord(w1)] });
        const snapshot = await store.snapshot();
        expect(snapshot.records).toEqual([w2]);
        expect(snapshot.offset).toBe(removal[0]!.offset);
      });

      it('of an empty store has no records and an offset from which every later change follows', async () => {
        const store = await open();
        const empty = await store.snapshot();
        expect(empty.records).toEqual([]);
        expect(await store.changesSince(empty.offset)).toEqual([]);
        const entries = await store.commit({ records: [workerRecord({ id: 'w1' })] });
        expect(await store.changesSince(empty.offset)).toEqual(entries);
        expect(store.compareOffsets(empty.offset, entries[0]!.offset)).toBeLessThan(0);
      });
    });

    describe('changesSince and compareOffsets', () => {
      it('returns exactly the entries after an offset, and [] for the latest', async () => {
        const store = await open();
        const batches: LogEntry[][] = [];
        let w1 = workerRecord({ id: 'w1' });
        batches.push(await store.commit({ records: [w1, jobRecord({ id: 'j1' })] }));
        for (let i = 0; i < 4; i++) {
          w1 = nextRecord(w1);
          batches.push(await store.commit({ records: [w1] }));
        }
        const all = batches.flat();
        for (let i = 0; i < all.length; i++) {
          expect(await store.changesSince(all[i]!.offset)).toEqual(all.slice(i + 1));
        }
        expect(await store.changesSince(all[all.length - 1]!.offset)).toEqual([]);
        expect(await store.changesSince((await store.snapshot()).offset)).toEqual([]);
      });

      it('with a limit, returns the earliest entries after an offset, at most that many', async () => {
        const store = await open();
        const before = (await store.snapshot()).offset;
        const all = await store.commit({ records: Array.from({ length: 5 }, (_, i) => workerRecord({ id: `w${i}` })) });
        expect(await store.changesSince(before, 2)).toEqual(all.slice(0, 2));
        expect(await store.changesSince(all[1]!.offset, 2)).toEqual(all.slice(2, 4));
        expect(await store.changesSince(all[3]!.offset, 10)).toEqual(all.slice(4));
        expect(await store.changesSince(all[4]!.offset, 10)).toEqual([]);
      });

      it('is undefined for an offset older than the retained log, but serves the last logLimit entries', async () => {
        const logLimit = 10;
        const store = await open({ logLimit });
        const all: LogEntry[] = [];
        // Enough entries that any implementation (even one trimming in chunks or approximately) has let go of the first ones.
        for (let batch = 0; batch < 30; batch++) {
          const records = Array.from({ length: 100 }, (_, i) => workerRecord({ id: `w${batch}-${i}` }));
          all.push(...(await store.commit({ records })));
        }
        expect(await store.changesSince(all[0]!.offset)).toBeUndefined();
        expect(await store.changesSince(all[100]!.offset)).toBeUndefined();
        const recent = all.length - 1 - logLimit;
        expect(await store.changesSince(all[recent]!.offset)).toEqual(all.slice(recent + 1));
        expect(await store.changesSince(all[all.length - 1]!.offset)).toEqual([]);
        // A limit reads less; it does not make a trimmed part held.
        expect(await store.changesSince(all[0]!.offset, 1)).toBeUndefined();
        expect(await store.changesSince(all[recent]!.offset, 1)).toEqual([all[recent + 1]]);
      });

      it('logStats counts every change appended, and what the log holds (at least the last logLimit, past the trim)', async () => {
        const logLimit = 10;
        const store = await open({ logLimit });
        expect(await store.logStats()).toEqual({ appended: 0, length: 0 });
        await store.commit({ records: [workerRecord({ id: 'w1' }), workerRecord({ id: 'w2' })] });
        expect(await store.logStats()).toEqual({ appended: 2, length: 2 });
        for (let batch = 0; batch < 30; batch++) {
          await store.commit({ records: Array.from({ length: 100 }, (_, i) => workerRecord({ id: `w${batch}-${i}` })) });
        }
        const { appended, length } = await store.logStats();
        expect(appended).toBe(3_002);
        // Trimmed, maybe in chunks or approximately: never below the limit, well below all.
        expect(length).toBeGreaterThanOrEqual(logLimit);
        expect(length).toBeLessThan(3_002);
      });

      it('is undefined for a string that is not an offset of this store', async () => {
        const store = await open();
        const entries = await store.commit({ records: [workerRecord({ id: 'w1' }), workerRecord({ id: 'w2' })] });
        const real = entries[0]!.offset;
        // Near misses of a real offset: its text up to the last dash, with junk after it, padded.
        const head = real.slice(0, real.lastIndexOf('-') + 1);
        const nearMisses = [`x${real}`, `${real}x`, `${real}.5`, `${real}-1`, `${real} `, `${real}\n`, head, `${head}0x1`, `${head}1e0`, `${head}+1`, `${head} 1`];
        for (const garbage of ['', 'garbage', '-', '-1', '0', '0-0', 'NaN', ...nearMisses]) {
          expect(await store.changesSince(garbage), JSON.stringify(garbage)).toBeUndefined();
        }
      });

      it('is undefined for an offset of another store, never mistaken for one of its own', async () => {
        // Stores made back to back (often within the same millisecond), each with a different amount of history.
        const stores: Store[] = [];
        for (let i = 0; i < 6; i++) stores.push(await open());
        const offsets: string[][] = [];
        for (const [i, store] of stores.entries()) {
          const mine = [(await store.snapshot()).offset];
          for (let k = 0; k <= i; k++) mine.push(...(await store.commit({ records: [workerRecord({ id: `w${k}` })] })).map((entry) => entry.offset));
          offsets.push(mine);
        }
        for (const [i, store] of stores.entries()) {
          for (const [j, theirs] of offsets.entries()) {
            if (i === j) continue;
            for (const offset of theirs) {
              expect(await store.changesSince(offset), `store ${i} given ${offset} of store ${j}`).toBeUndefined();
            }
          }
        }
      });

      it('compareOffsets orders offsets of this log', async () => {
        const store = await open();
        const start = (await store.snapshot()).offset;
        const [a, b] = await store.commit({ records: [workerRecord({ id: 'w1' }), workerRecord({ id: 'w2' })] });
        const [c] = await store.commit({ records: [workerRecord({ id: 'w3' })] });
        const ordered = [start, a!.offset, b!.offset, c!.offset];
        for (let i = 0; i < ordered.length; i++) {
          for (let j = 0; j < ordered.length; j++) {
            const sign = Math.sign(store.compareOffsets(ordered[i]!, ordered[j]!));
            expect(sign, `${i} vs ${j}`).toBe(Math.sign(i - j));
          }
        }
        const shuffled = [c!.offset, start, b!.offset, a!.offset];
        expect(shuffled.sort((x, y) => store.compareOffsets(x, y))).toEqual(ordered);
      });
    });

    describe('changesStampedFrom', () => {
      /** Commits `count` changes of one worker, the i-th stamped `start + i * stepMs` (record and commit alike), with an event each. */
      async function stamped(store: Store, start: number, count: number, stepMs: number): Promise<LogEntry[]> {
        const entries: LogEntry[] = [];
        let record = workerRecord({ id: 'w1' });
        for (let i = 0; i < count; i++) {
          const at = start + i * stepMs;
          record = { ...(i === 0 ? record : nextRecord(record)), updatedAt: new Date(at).toISOString() };
          entries.push(...(await store.commit({ records: [record], events: [{ type: `E${i}` }], at })));
        }
        return entries;
      }

      it('returns the changes stamped at or after a time, oldest first, with their events, and none for a later time', async () => {
        const store = await open();
        const start = store.now() - 60_000;
        const all = await stamped(store, start, 7, 1_000);
        expect(await store.changesStampedFrom(start, 100)).toEqual(all);
        expect(await store.changesStampedFrom(start + 3_000, 100)).toEqual(all.slice(3));
        expect(await store.changesStampedFrom(start + 2_500, 100)).toEqual(all.slice(3));
        expect((await store.changesStampedFrom(start + 6_000, 100)).map((entry) => entry.event?.type)).toEqual(['E6']);
        expect(await store.changesStampedFrom(start + 6_001, 100)).toEqual([]);
      });

      it('returns the newest `limit` when more were stamped since, across several reads of the log', async () => {
        const store = await open();
        const start = store.now() - 60_000;
        // More than one page of a store that reads the log in pages (Redis: 1,000 entries).
        const all = await stamped(store, start, 2_500, 10);
        expect(await store.changesStampedFrom(start, 4)).toEqual(all.slice(-4));
        expect(await store.changesStampedFrom(start, 2_100)).toEqual(all.slice(-2_100));
        expect(await store.changesStampedFrom(start + 10_000, 5_000)).toEqual(all.slice(1_000));
      });

      it('of an empty store is empty', async () => {
        const store = await open();
        expect(await store.changesStampedFrom(0, 10)).toEqual([]);
      });
    });

    describe('subscribe', () => {
      it('delivers every committed change, in offset order, in non-empty batches', async () => {
        const store = await open();
        const batches: LogEntry[][] = [];
        store.subscribe((entries) => batches.push(entries));
        const w1 = workerRecord({ id: 'w1' });
        const committed: LogEntry[] = [];
        committed.push(...(await store.commit({ records: [w1, connectorRecord({ id: 'c1', parentId: 'w1' })] })));
        await store.commit({ records: [], setTimers: [timer('t1', 10)] });
        committed.push(...(await store.commit({ records: [nextRecord(w1)] })));
        await expectConflict(store.commit({ records: [nextRecord(w1)] }));
        committed.push(...(await store.commit({ records: [removedRecord(nextRecord(w1))] })));

        await eventually(() => expect(batches.flat()).toEqual(committed));
        for (const batch of batches) expect(batch.length).toBeGreaterThan(0);
        const offsets = batches.flat().map((entry) => entry.offset);
        for (let i = 1; i < offsets.length; i++) expect(store.compareOffsets(offsets[i - 1]!, offsets[i]!)).toBeLessThan(0);
      });

      it('delivered() reaches a change\'s offset by the time its subscribers have it, never before', async () => {
        const store = await open();
        const seen: LogEntry[] = [];
        const positions: string[] = [];
        store.subscribe((entries) => {
          seen.push(...entries);
          positions.push(store.delivered());
        });
        const entries = await store.commit({ records: [workerRecord({ id: 'w1' }), workerRecord({ id: 'w2' })] });
        await eventually(() => expect(seen).toHaveLength(2));
        expect(store.compareOffsets(store.delivered(), entries[1]!.offset)).toBe(0);
        // While a batch is handed out, delivered() already covers it (and nothing later).
        expect(positions.at(-1)).toBe(entries[1]!.offset);
      });

      it('delivers to every subscriber, and stops after unsubscribe', async () => {
        const store = await open();
        const kept: LogEntry[] = [];
        const dropped: LogEntry[] = [];
        store.subscribe((entries) => kept.push(...entries));
        const unsubscribe = store.subscribe((entries) => dropped.push(...entries));

        const first = await store.commit({ records: [workerRecord({ id: 'w1' })] });
        await eventually(() => {
          expect(kept).toEqual(first);
          expect(dropped).toEqual(first);
        });

        unsubscribe();
        const second = await store.commit({ records: [workerRecord({ id: 'w2' })] });
        await eventually(() => expect(kept).toEqual([...first, ...second]));
        expect(dropped).toEqual(first);
      });

      it('a subscriber that throws neither fails the commit nor starves the other subscribers, and it is told as a warning', async () => {
        const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
        onTestFinished(() => warnings.mockRestore());
        const store = await open();
        const received: LogEntry[] = [];
        store.subscribe(() => {
          throw new Error('listener failed');
        });
        store.subscribe((entries) => received.push(...entries));
        const w1 = workerRecord({ id: 'w1' });
        const entries = await store.commit({ records: [w1] });
        expect(entries.map((entry) => entry.record)).toEqual([w1]);
        await eventually(() => expect(received).toEqual(entries));
        expect(await store.get('w1')).toEqual(w1);
        expect(String(warnings.mock.calls[0]?.[0])).toMatch(/^a store listener failed: Error: listener failed/);
      });
    });

    describe('pendingJobs', () => {
      it('lists only pending jobs of the type, higher priority first, then older, then by id', async () => {
        const store = await open();
        await store.commit({
          records: [
            jobRecord({ id: 'low-old', priority: 0, createdAt: '2025-01-01T00:00:01.000Z' }),
            jobRecord({ id: 'high-new', priority: 5, createdAt: '2025-01-01T00:00:09.000Z' }),
            jobRecord({ id: 'high-old', priority: 5, createdAt: '2025-01-01T00:00:02.000Z' }),
            jobRecord({ id: 'low-new-b', priority: 0, createdAt: '2025-01-01T00:00:05.000Z' }),
            jobRecord({ id: 'low-new-a', priority: 0, createdAt: '2025-01-01T00:00:05.000Z' }),
            jobRecord({ id: 'negative', priority: -3, createdAt: '2025-01-01T00:00:00.000Z' }),
            jobRecord({ id: 'other-type', type: 'email', priority: 9 }),
            jobRecord({ id: 'running', state: 'running', workerId: 'w1', priority: 9 }),
            jobRecord({ id: 'retrying', state: 'retrying', priority: 9 }),
            jobRecord({ id: 'done', state: 'completed', priority: 9 }),
            workerRecord({ id: 'not-a-job' }),
          ],
        });
        expect(await store.pendingJobs('render', acceptAll, 100)).toEqual(['high-old', 'high-new', 'low-old', 'low-new-a', 'low-new-b', 'negative']);
        expect(await store.pendingJobs('email', acceptAll, 100)).toEqual(['other-type']);
        expect(await store.pendingJobs('nothing', acceptAll, 100)).toEqual([]);
      });

      it('respects the limit, also across requirement groups', async () => {
        const store = await open();
        await store.commit({
          records: [
            jobRecord({ id: 'a', priority: 4 }),
            jobRecord({ id: 'b', priority: 3, requirements: { gpu: 1 } }),
            jobRecord({ id: 'c', priority: 2 }),
            jobRecord({ id: 'd', priority: 1, requirements: { gpu: 1 } }),
            jobRecord({ id: 'e', priority: 0, requirements: { region: 'eu' } }),
          ],
        });
        expect(await store.pendingJobs('render', acceptAll, 1)).toEqual(['a']);
        expect(await store.pendingJobs('render', acceptAll, 2)).toEqual(['a', 'b']);
        expect(await store.pendingJobs('render', acceptAll, 4)).toEqual(['a', 'b', 'c', 'd']);
        expect(await store.pendingJobs('render', acceptAll, 10)).toEqual(['a', 'b', 'c', 'd', 'e']);
        expect(await store.pendingJobs('render', acceptAll, 0)).toEqual([]);
      });

      it('offers requirement groups to accept and skips the ones it refuses', async () => {
        const store = await open();
        await store.commit({
          records: [
            jobRecord({ id: 'plain', priority: 0 }),
            jobRecord({ id: 'gpu', priority: 5, requirements: { gpu: 2 } }),
            jobRecord({ id: 'big-gpu', priority: 9, requirements: { gpu: 8 } }),
            jobRecord({ id: 'eu', priority: 1, requirements: { region: 'eu', tags: ['ssd'] } }),
            jobRecord({ id: 'eu-reordered', priority: 1, createdAt: '2025-01-02T00:00:00.000Z', requirements: { tags: ['ssd'], region: 'eu' } }),
          ],
        });
        const offered: Requirements[] = [];
        const small = { gpu: 4, region: 'us', tags: ['ssd'] };
        expect(
          await store.pendingJobs('render', (requirements) => {
            offered.push(requirements);
            return meetsRequirements(small, requirements);
          }, 10),
        ).toEqual(['gpu', 'plain']);
        // accept sees the jobs' requirements as they were written (equal ones may share one call).
        for (const requirements of offered) {
          expect([{}, { gpu: 2 }, { gpu: 8 }, { region: 'eu', tags: ['ssd'] }]).toContainEqual(requirements);
        }
        expect(offered).toContainEqual({ gpu: 8 });
        expect(await store.pendingJobs('render', (requirements) => meetsRequirements({ region: 'eu', tags: ['ssd', 'x'] }, requirements), 10)).toEqual([
          'eu',
          'eu-reordered',
          'plain',
        ]);
        expect(await store.pendingJobs('render', () => false, 10)).toEqual([]);
      });

      it('a job leaves the queue when it stops being pending and comes back when pending again', async () => {
        const store = await open();
        const j1 = jobRecord({ id: 'j1', priority: 1, createdAt: '2025-01-01T00:00:01.000Z' });
        const j2 = jobRecord({ id: 'j2', priority: 1, createdAt: '2025-01-01T00:00:02.000Z' });
        await store.commit({ records: [j1, j2] });
        expect(await store.pendingJobs('render', acceptAll, 10)).toEqual(['j1', 'j2']);

        const assigned = nextRecord(j1, { state: 'assigned', context: { workerId: 'w1' } });
        await store.commit({ records: [assigned] });
        expect(await store.pendingJobs('render', acceptAll, 10)).toEqual(['j2']);

        const retrying = nextRecord(assigned, { state: 'retrying', context: { workerId: null } });
        await store.commit({ records: [retrying] });
        expect(await store.pendingJobs('render', acceptAll, 10)).toEqual(['j2']);

        const pendingAgain = nextRecord(retrying, { state: 'pending' });
        await store.commit({ records: [pendingAgain] });
        expect(await store.pendingJobs('render', acceptAll, 10)).toEqual(['j1', 'j2']);

        // A change of priority while pending moves it.
        await store.commit({ records: [nextRecord(j2, { context: { priority: 7 } })] });
        expect(await store.pendingJobs('render', acceptAll, 10)).toEqual(['j2', 'j1']);

        // Removed jobs leave the queue, also straight from pending.
        await store.commit({ records: [removedRecord(pendingAgain)] });
        expect(await store.pendingJobs('render', acceptAll, 10)).toEqual(['j2']);
      });

      it('follows several state changes of one job within a single commit', async () => {
        const store = await open();
        const j1 = jobRecord({ id: 'j1' });
        const assigned = nextRecord(j1, { state: 'assigned', context: { workerId: 'w1' } });
        await store.commit({ records: [j1, assigned] });
        expect(await store.pendingJobs('render', acceptAll, 10)).toEqual([]);
        const lost = nextRecord(assigned, { state: 'running' });
        const back = nextRecord(lost, { state: 'pending', context: { workerId: null } });
        await store.commit({ records: [lost, back] });
        expect(await store.pendingJobs('render', acceptAll, 10)).toEqual(['j1']);
        expect(await store.leasesOf('w1')).toEqual([]);
      });
    });

    describe('leasesOf', () => {
      it('lists the jobs a worker holds in assigned or running, following state changes', async () => {
        const store = await open();
        const a = jobRecord({ id: 'a', state: 'assigned', workerId: 'w1' });
        const b = jobRecord({ id: 'b', state: 'running', workerId: 'w1' });
        const c = jobRecord({ id: 'c', state: 'running', workerId: 'w2' });
        const p = jobRecord({ id: 'p', state: 'pending', workerId: 'w1' });
        const done = jobRecord({ id: 'done', state: 'completed', workerId: 'w1' });
        await store.commit({ records: [a, b, c, p, done, workerRecord({ id: 'w1' })] });
        expect((await store.leasesOf('w1')).sort()).toEqual(['a', 'b']);
        expect(await store.leasesOf('w2')).toEqual(['c']);
        expect(await store.leasesOf('nobody')).toEqual([]);

        const aRunning = nextRecord(a, { state: 'running' });
        await store.commit({ records: [aRunning] });
        expect((await store.leasesOf('w1')).sort()).toEqual(['a', 'b']);

        const bDone = nextRecord(b, { state: 'completed' });
        await store.commit({ records: [bDone] });
        expect(await store.leasesOf('w1')).toEqual(['a']);

        // Lost lease, back to pending, reassigned to another worker.
        const aPending = nextRecord(aRunning, { state: 'pending', context: { workerId: null } });
        const aOnW2 = nextRecord(aPending, { state: 'assigned', context: { workerId: 'w2' } });
        await store.commit({ records: [aPending] });
        expect(await store.leasesOf('w1')).toEqual([]);
        await store.commit({ records: [aOnW2] });
        expect((await store.leasesOf('w2')).sort()).toEqual(['a', 'c']);

        await store.commit({ records: [removedRecord(c)] });
        expect(await store.leasesOf('w2')).toEqual(['a']);
      });
    });

    describe('timers', () => {
      it('sets timers in a commit; dueTimers lists those due at or before now, earliest first, up to limit', async () => {
        const store = await open();
        expect(await store.nextDueAt()).toBeUndefined();
        expect(await store.dueTimers(Number.MAX_SAFE_INTEGER, 10)).toEqual([]);
        await store.commit({ records: [jobRecord({ id: 'j1' })], setTimers: [timer('c', 300), timer('a', 100), timer('b', 200)] });
        await store.commit({ records: [], setTimers: [timer('d', 200, 'j2')] });

        expect(await store.nextDueAt()).toBe(100);
        expect(await store.dueTimers(99, 10)).toEqual([]);
        expect(await store.dueTimers(100, 10)).toEqual([timer('a', 100)]);
        const upTo200 = await store.dueTimers(250, 10);
        expect(upTo200.map((t) => t.key).slice(0, 1)).toEqual(['a']);
        expect(upTo200.slice(1).map((t) => t.key).sort()).toEqual(['b', 'd']);
        expect(upTo200).toContainEqual(timer('d', 200, 'j2'));
        expect((await store.dueTimers(1_000, 10)).map((t) => t.dueAt)).toEqual([100, 200, 200, 300]);
        expect((await store.dueTimers(1_000, 2)).map((t) => t.dueAt)).toEqual([100, 200]);
        expect(await store.dueTimers(1_000, 0)).toEqual([]);
      });

      it('dueTimers only reads: the timers stay until cleared or consumed', async () => {
        const store = await open();
        await store.commit({ records: [], setTimers: [timer('a', 100)] });
        expect(await store.dueTimers(500, 10)).toEqual([timer('a', 100)]);
        expect(await store.dueTimers(500, 10)).toEqual([timer('a', 100)]);
        expect(await store.nextDueAt()).toBe(100);
      });

      it('setting a timer with an existing key replaces it', async () => {
        const store = await open();
        await store.commit({ records: [], setTimers: [timer('k', 100), timer('other', 500)] });
        const replacement: Timer = { key: 'k', actorId: 'j9', dueAt: 300, event: { type: 'LATER', n: 2 } };
        await store.commit({ records: [], setTimers: [replacement] });
        expect(await store.nextDueAt()).toBe(300);
        expect(await store.dueTimers(200, 10)).toEqual([]);
        expect(await store.dueTimers(1_000, 10)).toEqual([replacement, timer('other', 500)]);
        // Moving a timer earlier works too.
        await store.commit({ records: [], setTimers: [timer('other', 50)] });
        expect(await store.dueTimers(1_000, 10)).toEqual([timer('other', 50), replacement]);
      });

      it('clearTimers removes timers; clearing an unknown key is harmless', async () => {
        const store = await open();
        await store.commit({ records: [], setTimers: [timer('a', 100), timer('b', 200)] });
        await store.commit({ records: [jobRecord({ id: 'j1' })], clearTimers: ['a', 'unknown'] });
        expect(await store.nextDueAt()).toBe(200);
        expect(await store.dueTimers(1_000, 10)).toEqual([timer('b', 200)]);
        await store.commit({ records: [], clearTimers: ['b'] });
        expect(await store.nextDueAt()).toBeUndefined();
        expect(await store.dueTimers(1_000, 10)).toEqual([]);
      });

      it('consumeTimer succeeds once; a second consume conflicts and writes nothing', async () => {
        const store = await open();
        const j1 = jobRecord({ id: 'j1', state: 'retrying' });
        await store.commit({ records: [j1], setTimers: [timer('retry', 100), timer('other', 900)] });

        const pending = nextRecord(j1, { state: 'pending' });
        const entries = await store.commit({ records: [pending], consumeTimer: { key: 'retry', dueAt: 100 } });
        expect(entries.map((entry) => entry.record)).toEqual([pending]);
        expect(await store.dueTimers(1_000, 10)).toEqual([timer('other', 900)]);
        expect(await store.pendingJobs('render', acceptAll, 10)).toEqual(['j1']);

        const before = await observe(store, ['j1', 'j2'], [], ['render']);
        await expectConflict(
          store.commit({
            records: [jobRecord({ id: 'j2' }), nextRecord(pending, { state: 'cancelled' })],
            consumeTimer: { key: 'retry', dueAt: 100 },
            setTimers: [timer('new', 10)],
            clearTimers: ['other'],
          }),
        );
        expect(await observe(store, ['j1', 'j2'], [], ['render'])).toEqual(before);
      });

      it('consuming a timer that was reset to another due time conflicts and writes nothing', async () => {
        const store = await open();
        const j1 = jobRecord({ id: 'j1', state: 'assigned', workerId: 'w1' });
        await store.commit({ records: [j1], setTimers: [timer('ack', 100)] });
        await store.commit({ records: [], setTimers: [timer('ack', 400)] });

        const before = await observe(store, ['j1'], ['w1'], ['render']);
        await expectConflict(store.commit({ records: [nextRecord(j1, { state: 'pending', context: { workerId: null } })], consumeTimer: { key: 'ack', dueAt: 100 } }));
        expect(await observe(store, ['j1'], ['w1'], ['render'])).toEqual(before);

        // The current one can be consumed.
        await store.commit({ records: [nextRecord(j1, { state: 'pending', context: { workerId: null } })], consumeTimer: { key: 'ack', dueAt: 400 } });
        expect(await store.nextDueAt()).toBeUndefined();
        expect(await store.leasesOf('w1')).toEqual([]);
      });

      it('consuming a timer that never existed, or was cleared or reset, conflicts: TimerGoneError, so the step is not made again', async () => {
        const store = await open();
        const gone = (promise: Promise<unknown>) => expect(promise).rejects.toBeInstanceOf(TimerGoneError);
        await gone(store.commit({ records: [workerRecord({ id: 'w1' })], consumeTimer: { key: 'none', dueAt: 1 } }));
        await store.commit({ records: [], setTimers: [timer('t', 100)] });
        await store.commit({ records: [], clearTimers: ['t'] });
        await gone(store.commit({ records: [workerRecord({ id: 'w1' })], consumeTimer: { key: 't', dueAt: 100 } }));
        await store.commit({ records: [], setTimers: [timer('t', 200)] });
        await gone(store.commit({ records: [], consumeTimer: { key: 't', dueAt: 100 } }));
        expect(await store.get('w1')).toBeUndefined();
        // A wrong seq is an ordinary conflict, worth another try.
        await store.commit({ records: [workerRecord({ id: 'w1' })] });
        const seqConflict = await store.commit({ records: [workerRecord({ id: 'w1' })], consumeTimer: { key: 't', dueAt: 200 } }).catch((error: unknown) => error);
        expect(seqConflict).toBeInstanceOf(ConflictError);
        expect(seqConflict).not.toBeInstanceOf(TimerGoneError);
      });

      it('a commit may consume a timer and set a new one under the same key', async () => {
        const store = await open();
        await store.commit({ records: [], setTimers: [timer('probe', 100)] });
        await store.commit({ records: [], consumeTimer: { key: 'probe', dueAt: 100 }, setTimers: [timer('probe', 200)] });
        expect(await store.dueTimers(1_000, 10)).toEqual([timer('probe', 200)]);
        await expectConflict(store.commit({ records: [], consumeTimer: { key: 'probe', dueAt: 100 } }));
        await store.commit({ records: [], consumeTimer: { key: 'probe', dueAt: 200 } });
        expect(await store.nextDueAt()).toBeUndefined();
      });

      it('a wrong seq keeps the consumed timer in place', async () => {
        const store = await open();
        const j1 = jobRecord({ id: 'j1', state: 'retrying' });
        await store.commit({ records: [j1], setTimers: [timer('retry', 100)] });
        await expectConflict(store.commit({ records: [nextRecord(j1, { seq: 3, state: 'pending' })], consumeTimer: { key: 'retry', dueAt: 100 } }));
        expect(await store.dueTimers(1_000, 10)).toEqual([timer('retry', 100)]);
        await store.commit({ records: [nextRecord(j1, { state: 'pending' })], consumeTimer: { key: 'retry', dueAt: 100 } });
        expect(await store.nextDueAt()).toBeUndefined();
      });
    });

    describe('history', () => {
      it('keeps an actor\'s changes, oldest first, with their offsets, through its removal', async () => {
        const store = await open();
        const first = workerRecord({ id: 'w1' });
        const second = nextRecord(first, { state: 'busy' });
        const removed = removedRecord(second);
        const entries = [
          ...(await store.commit({ records: [first, workerRecord({ id: 'other' })] })),
          ...(await store.commit({ records: [second] })),
          ...(await store.commit({ records: [removed] })),
        ];
        const mine = entries.filter((entry) => entry.record.id === 'w1');
        expect(await store.history('w1')).toEqual(mine);
        expect((await store.history('other')).map((entry) => entry.record.id)).toEqual(['other']);
        expect(await store.history('never-there')).toEqual([]);
      });

      it('keeps the event of each change with it: in the returned entries, the history, changesSince and what subscribers get', async () => {
        const store = await open();
        const delivered: LogEntry[] = [];
        store.subscribe((entries) => delivered.push(...entries));
        const before = (await store.snapshot()).offset;
        const first = workerRecord({ id: 'w1' });
        const second = nextRecord(first, { state: 'busy' });
        const entries = [
          ...(await store.commit({ records: [first, workerRecord({ id: 'quiet' })], events: [{ type: 'xstate.init' }, undefined] })),
          ...(await store.commit({ records: [second], events: [{ type: 'ASSIGN', jobId: 'j1', nested: { line: 'a\nb' } }] })),
        ];
        expect(entries.map((entry) => entry.event)).toEqual([{ type: 'xstate.init' }, undefined, { type: 'ASSIGN', jobId: 'j1', nested: { line: 'a\nb' } }]);
        expect('event' in (entries[1] as LogEntry)).toBe(false);
        expect(await store.history('w1')).toEqual([entries[0], entries[2]]);
        expect(await store.history('quiet')).toEqual([entries[1]]);
        expect(await store.changesSince(before)).toEqual(entries);
        await eventually(() => expect(delivered).toEqual(entries));
      });

      it('keeps at most historyLimit changes per actor, the latest', async () => {
        const store = await open({ historyLimit: 3 });
        let record = workerRecord({ id: 'w1' });
        const entries = await store.commit({ records: [record] });
        for (let i = 0; i < 9; i++) {
          record = nextRecord(record, { context: { step: i } });
          entries.push(...(await store.commit({ records: [record] })));
        }
        expect(await store.history('w1')).toEqual(entries.slice(-3));
      });

      it('forgets the history once the removal is no longer retained', async () => {
        const store = await open({ archiveRetentionMs: 1 });
        const record = workerRecord({ id: 'w1' });
        await store.commit({ records: [record] });
        await store.commit({ records: [removedRecord(record)] });
        await sleep(20);
        // A later removal sweeps the expired archive.
        const other = workerRecord({ id: 'w2' });
        await store.commit({ records: [other] });
        await store.commit({ records: [removedRecord(other)] });
        expect(await store.history('w1')).toEqual([]);
      });
    });

    describe('secrets', () => {
      it('keeps a secret per actor id, replaced by a later one and forgotten when deleted', async () => {
        const store = await open();
        expect(await store.getSecret('hook-1')).toBeUndefined();
        await store.putSecret('hook-1', 'first secret');
        await store.putSecret('hook-2', 'other secret');
        expect(await store.getSecret('hook-1')).toBe('first secret');
        await store.putSecret('hook-1', 'second secret');
        expect(await store.getSecret('hook-1')).toBe('second secret');
        await store.deleteSecret('hook-1');
        await store.deleteSecret('never-there');
        expect(await store.getSecret('hook-1')).toBeUndefined();
        expect(await store.getSecret('hook-2')).toBe('other secret');
      });

      it('keeps secrets out of records, the log, snapshots and histories', async () => {
        const store = await open();
        const before = (await store.snapshot()).offset;
        const record = workerRecord({ id: 'hook-1' });
        await store.commit({ records: [record] });
        await store.putSecret('hook-1', 'never-in-a-record');
        const seen = JSON.stringify([await store.snapshot(), await store.changesSince(before), await store.history('hook-1'), await store.get('hook-1')]);
        expect(seen).not.toContain('never-in-a-record');
      });
    });

    describe('children', () => {
      it('lists the live children of a parent and drops removed ones', async () => {
        const store = await open();
        const c1 = connectorRecord({ id: 'c1', parentId: 'w1' });
        const c2 = connectorRecord({ id: 'c2', parentId: 'w1' });
        const c3 = connectorRecord({ id: 'c3', parentId: 'w2' });
        await store.commit({ records: [workerRecord({ id: 'w1' }), workerRecord({ id: 'w2' }), c1, c2, c3] });
        expect(ids(await store.children('w1'))).toEqual(['c1', 'c2']);
        expect(await store.children('w2')).toEqual([c3]);
        expect(await store.children('c1')).toEqual([]);
        expect(await store.children('nobody')).toEqual([]);

        const c2b = nextRecord(c2, { state: 'active' });
        await store.commit({ records: [removedRecord(c1), c2b] });
        expect(await store.children('w1')).toEqual([c2b]);

        // A child that moves to another parent is listed there only.
        const c3b = nextRecord(c3, { parentId: 'w1' });
        await store.commit({ records: [c3b] });
        expect(byId(await store.children('w1'))).toEqual(byId([c2b, c3b]));
        expect(await store.children('w2')).toEqual([]);
      });
    });

    describe('replay (property)', () => {
      type Action =
        | { op: 'create'; seq: number; kind: 'job' | 'worker'; state: string }
        | { op: 'update'; pick: number; delta: number; state: string }
        | { op: 'remove'; pick: number; delta: number };

      const state = fc.constantFrom('pending', 'assigned', 'running', 'retrying', 'completed');
      // Mostly right seqs (delta 1), sometimes stale or skipping ones.
      const delta = fc.oneof({ weight: 8, arbitrary: fc.constant(1) }, { weight: 1, arbitrary: fc.constantFrom(0, -1, 2) });
      const action: fc.Arbitrary<Action> = fc.oneof(
        fc.record({ op: fc.constant('create' as const), seq: fc.oneof({ weight: 8, arbitrary: fc.constant(1) }, { weight: 1, arbitrary: fc.constant(2) }), kind: fc.constantFrom('job' as const, 'worker' as const), state }),
        fc.record({ op: fc.constant('update' as const), pick: fc.nat(), delta, state }),
        fc.record({ op: fc.constant('remove' as const), pick: fc.nat(), delta }),
      );
      const commits = fc.array(fc.array(action, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 25 });

      it('snapshot + changesSince(any earlier offset) replays to the later snapshot; wrong seqs change nothing', async () => {
        await fc.assert(
          fc.asyncProperty(commits, async (plan) => {
            const store = await makeStore();
            try {
              let model = new Map<string, ActorRecord>();
              let nextId = 0;
              const checkpoints = [await store.snapshot()];
              for (const actions of plan) {
                const working = new Map(model);
                const records: ActorRecord[] = [];
                let valid = true;
                for (const act of actions) {
                  const live = [...working.keys()].sort();
                  if (act.op === 'create' || live.length === 0) {
                    const id = `a${nextId++}`;
                    const seq = act.op === 'create' ? act.seq : 1;
                    const fields = { id, seq, state: act.op === 'remove' ? 'pending' : act.state };
                    const record = act.op === 'create' && act.kind === 'worker' ? workerRecord(fields) : jobRecord({ ...fields, workerId: 'w1' });
                    if (seq !== 1) valid = false;
                    records.push(record);
                    working.set(id, record);
                  } else {
                    const current = working.get(live[act.pick % live.length]!)!;
                    if (act.delta !== 1) valid = false;
                    const seq = current.seq + act.delta;
                    if (act.op === 'update') {
                      const record = nextRecord(current, { seq, state: act.state });
                      records.push(record);
                      working.set(current.id, record);
                    } else {
                      records.push({ ...current, seq, removed: true });
                      working.delete(current.id);
                    }
                  }
                }
                const before = await store.snapshot();
                if (valid) {
                  const entries = await store.commit({ records });
                  expect(entries.map((entry) => entry.record)).toEqual(records);
                  expect(replay(before.records, entries)).toEqual(working);
                  model = working;
                } else {
                  await expectConflict(store.commit({ records }));
                  const after = await store.snapshot();
                  expect(after.offset).toBe(before.offset);
                  expect(await store.changesSince(before.offset)).toEqual([]);
                }
                const snapshot = await store.snapshot();
                expect(byId(snapshot.records)).toEqual(model);
                checkpoints.push(snapshot);
              }
              const final = await store.snapshot();
              for (const checkpoint of checkpoints) {
                const changes = await store.changesSince(checkpoint.offset);
                expect(changes).toBeDefined();
                expect(replay(checkpoint.records, changes!)).toEqual(byId(final.records));
              }
              for (const [id, record] of model) expect(await store.get(id)).toEqual(record);
            } finally {
              await release(store);
            }
          }),
          { numRuns: 60 },
        );
      });
    });
  });
}
