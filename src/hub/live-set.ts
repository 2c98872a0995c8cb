/**
 * The live set as this hub's log delivery has it: every live actor's latest record, counted by
 * kind, state and type. It is read once from a snapshot when the hub starts (and again after a
 * gap), then kept from the log (`store.subscribe`). Every hub on one store reads the same log,
 * so at the same offset every hub holds the same set: the gauges of /metrics are counted from it
 * (never from counters that could drift), and each change is told with the record it follows.
 */
import type { ActorRecord, ChangeEvent, Kind, LogEntry } from '../protocol/record.js';
import type { Store } from '../store/store.js';

/** One change of an actor, as the log delivered it. */
export interface Transition<R extends ActorRecord = ActorRecord> {
  offset: string;
  record: R;
  /**
   * The actor's record before this change, as this hub held it: undefined for an actor that was
   * not in the live set (its first record, or its return after a removal).
   */
  previous: R | undefined;
  /** What caused the change (`LogEntry.event`), when it was recorded. */
  event: ChangeEvent | undefined;
}

export interface LiveSetListener {
  /** Every change, in offset order. */
  change(transition: Transition): void;
  /** The set was read afresh (at start, after a gap): `records` is all of it, and changes before it were not told. */
  reset?(records: Iterable<ActorRecord>): void;
}

/** How many live actors have one kind, state and type (a job's or connector's `type`; '' for other kinds). */
export interface Group {
  kind: Kind;
  state: string;
  type: string;
  count: number;
}

/** While the set cannot be read (the store is away), it tries again this often (ms). */
const RETRY_MS = 1_000;

export class LiveSet {
  private readonly records = new Map<string, ActorRecord>();
  private readonly counts = new Map<string, Group>();
  private readonly listeners = new Set<LiveSetListener>();
  /** Changes delivered while the set is being read: after the read, those past its offset are applied. */
  private buffer: LogEntry[] | undefined;
  /** Reads one after another, so a later read never lands before an earlier one. */
  private reading: Promise<void> = Promise.resolve();
  private readsInFlight = 0;
  private closed = false;
  private readonly unsubscribe: Array<() => void>;

  private constructor(
    private readonly store: Store,
    private readonly onError: (error: unknown) => void,
  ) {
    this.unsubscribe = [
      store.subscribe((entries) => (this.buffer ? this.buffer.push(...entries) : this.apply(entries))),
      // Changes were lost before this process delivered them: what was counted from them is wrong.
      store.onGap(() => void this.readUntilDone()),
    ];
  }

  /** A live set read from `store`; rejects when the store cannot be read. */
  static async open(store: Store, onError: (error: unknown) => void): Promise<LiveSet> {
    const live = new LiveSet(store, onError);
    try {
      await live.read();
    } catch (error) {
      live.close();
      throw error;
    }
    return live;
  }

  listen(listener: LiveSetListener): () => void {
    this.listeners.add(listener);
    listener.reset?.(this.records.values());
    return () => this.listeners.delete(listener);
  }

  /** Live actors by kind, state and type: as many groups as there are combinations, whatever the number of actors. */
  groups(): Iterable<Group> {
    return this.counts.values();
  }

  close(): void {
    this.closed = true;
    for (const unsubscribe of this.unsubscribe) unsubscribe();
    this.listeners.clear();
  }

  private read(): Promise<void> {
    // With none in flight, the read starts now: changes are buffered from this very moment.
    const read = this.readsInFlight++ === 0 ? this.readOnce() : this.reading.then(() => this.readOnce());
    this.reading = read.catch(() => {}).finally(() => this.readsInFlight--);
    return read;
  }

  private async readUntilDone(): Promise<void> {
    while (!this.closed) {
      try {
        return await this.read();
      } catch (error) {
        this.onError(error);
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS).unref());
      }
    }
  }

  /** Buffers changes from its call (synchronously), reads the snapshot, then applies what came after it. */
  private async readOnce(): Promise<void> {
    const buffer: LogEntry[] = [];
    this.buffer = buffer;
    try {
      const snapshot = await this.store.snapshot();
      this.records.clear();
      this.counts.clear();
      for (const record of snapshot.records) this.add(record);
      for (const listener of this.listeners) listener.reset?.(this.records.values());
      this.buffer = undefined;
      this.apply(buffer.filter((entry) => this.store.compareOffsets(entry.offset, snapshot.offset) > 0));
    } finally {
      if (this.buffer === buffer) this.buffer = undefined;
    }
  }

  private apply(entries: LogEntry[]): void {
    for (const { offset, record, event } of entries) {
      const previous = this.records.get(record.id);
      if (record.removed) {
        this.records.delete(record.id);
        if (previous) this.count(previous, -1);
      } else {
        this.records.set(record.id, record);
        // An actor's kind and type never change: most changes (progress, heartbeats) stay in their group.
        if (previous?.state !== record.state) {
          if (previous) this.count(previous, -1);
          this.count(record, 1);
        }
      }
      const transition: Transition = { offset, record, previous, event };
      for (const listener of this.listeners) listener.change(transition);
    }
  }

  private add(record: ActorRecord): void {
    this.records.set(record.id, record);
    this.count(record, 1);
  }

  private count(record: ActorRecord, delta: 1 | -1): void {
    const type = record.kind === 'job' || record.kind === 'connector' ? String(record.snapshot.context.type) : '';
    const key = `${record.kind}\u0000${record.state}\u0000${type}`;
    const group = this.counts.get(key);
    if (!group) {
      this.counts.set(key, { kind: record.kind, state: record.state, type, count: delta });
      return;
    }
    group.count += delta;
    // Gone groups go, so the number of groups stays that of the combinations alive now.
    if (group.count === 0) this.counts.delete(key);
  }
}
