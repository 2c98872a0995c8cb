/**
 * The feed: committed changes fanned out to observers (monitor sockets, SSE clients), batched
 * per event-loop turn. Joining is where "monitor opened first" and "monitor opened later" must
 * agree: an observer gets a snapshot at offset O (or a replay up to O) and then exactly the
 * changes after O, with nothing missed and nothing twice.
 */
import { toDelta, type StreamEntry } from '../protocol/delta.js';
import type { ActorRecord, LogEntry, Snapshot } from '../protocol/record.js';
import { recordFilter, type Filter } from '../protocol/monitor.js';
import type { Store } from '../store/store.js';

export type Initial =
  | { type: 'snapshot'; snapshot: Snapshot }
  /** Every change after the observer's `since`, up to `offset`. */
  | { type: 'replay'; entries: LogEntry[]; offset: string };

export interface Follower {
  /** Live changes that match its filter, in offset order. */
  push(entries: LogEntry[]): void;
}

/** How an observer takes live changes: as deltas where the hub can, and with the events that caused them. */
export interface EntryForm {
  deltas?: boolean | undefined;
  events?: boolean | undefined;
}

export interface JoinRequest {
  since?: string | undefined;
  filter?: Filter | undefined;
}

export class Feed {
  private queued: LogEntry[] = [];
  private flushScheduled = false;
  private readonly followers = new Map<Follower, ((entries: LogEntry) => boolean) | undefined>();
  private readonly syncing = new Set<LogEntry[]>();
  private readonly broadcasts = new Set<(entries: LogEntry[]) => void>();
  private readonly resets = new Set<() => void>();
  /** Joins waiting for the store's deliveries to reach their initial offset. */
  private waiting: Array<{ offset: string; resume: () => void }> = [];
  private readonly unsubscribe: Array<() => void>;
  /** Each live actor's last record handed out: what its next change is a delta against. */
  private readonly latest = new Map<string, ActorRecord>();
  /** The record each handed-out entry follows (seq - 1), while an observer may still ask for its delta. */
  private readonly bases = new WeakMap<LogEntry, ActorRecord>();
  private readonly deltas = new WeakMap<LogEntry, StreamEntry>();
  private readonly plain = new WeakMap<LogEntry, LogEntry>();

  constructor(private readonly store: Store) {
    this.unsubscribe = [
      store.subscribe((entries) => this.enqueue(entries)),
      // Observers missed changes: they must start over (their resume finds the gap and gets a snapshot).
      store.onGap(() => {
        this.latest.clear();
        this.resumeWaiting(true);
        for (const reset of this.resets) reset();
      }),
    ];
  }

  /** The offset up to which changes have been handed out. */
  delivered(): string {
    return this.store.delivered();
  }

  /** The hub's clock (the store's, epoch ms): observers are told it, to correct their own. */
  now(): number {
    return this.store.now();
  }

  /** `fn` must make its observers start over, e.g. by closing their connections. */
  onReset(fn: () => void): () => void {
    this.resets.add(fn);
    return () => this.resets.delete(fn);
  }

  /** `fn` gets every batch, unfiltered, once: for observers that share one encoding (a Socket.IO room). */
  onBroadcast(fn: (entries: LogEntry[]) => void): () => void {
    this.broadcasts.add(fn);
    return () => this.broadcasts.delete(fn);
  }

  /**
   * Brings an observer up to date, then live. `deliver` gets the initial state and the matching
   * changes committed meanwhile; it runs synchronously with the switch to live delivery, so it
   * must send them (and join its broadcast room, if it uses one) before returning. A `follower`
   * then receives every later matching batch. Resolves with what the observer was given.
   */
  async join(request: JoinRequest, deliver: (initial: Initial, tail: LogEntry[]) => void, follower?: Follower): Promise<Initial['type']> {
    const buffer: LogEntry[] = [];
    this.syncing.add(buffer);
    const matches = recordFilter(request.filter);
    let initial: Initial;
    try {
      initial = await this.initial(request.since, request.filter, matches);
      // What the observer got may run ahead of what this hub has been handed yet (a Redis tail
      // lags its commits): go live only once deliveries caught up, or it would see changes twice.
      await this.caughtUp(initial.type === 'snapshot' ? initial.snapshot.offset : initial.offset);
    } catch (error) {
      this.syncing.delete(buffer);
      throw error;
    }
    // From here on, synchronous: changes committed while we read are in `buffer` (or still queued).
    this.flush();
    this.syncing.delete(buffer);
    const offset = initial.type === 'snapshot' ? initial.snapshot.offset : initial.offset;
    const tail = buffer.filter((entry) => this.store.compareOffsets(entry.offset, offset) > 0 && (!matches || matches(entry.record)));
    deliver(initial, tail);
    if (follower) this.followers.set(follower, matches && ((entry: LogEntry) => matches(entry.record)));
    return initial.type;
  }

  leave(follower: Follower): void {
    this.followers.delete(follower);
  }

  /** Delivers everything committed so far. */
  flush(): void {
    this.flushScheduled = false;
    if (this.queued.length === 0) return;
    const entries = this.queued;
    this.queued = [];
    for (const entry of entries) this.track(entry);
    for (const buffer of this.syncing) for (const entry of entries) buffer.push(entry);
    for (const broadcast of this.broadcasts) broadcast(entries);
    for (const [follower, matches] of this.followers) {
      const matching = matches ? entries.filter(matches) : entries;
      if (matching.length > 0) follower.push(matching);
    }
  }

  /**
   * The entry in the form an observer asked for, made once per form whoever asks (except deltas
   * with events, which only inspectors ask for). A delta is against the actor's previous record;
   * the whole entry goes when this hub has not handed out that previous record (the actor's first
   * change, or its first since this hub started). Without `events`, the event is left out.
   */
  streamEntry(entry: LogEntry, form: EntryForm): StreamEntry {
    if (!form.deltas) return form.events ? entry : this.withoutEvent(entry);
    let sent = this.deltas.get(entry);
    if (!sent) {
      const base = this.bases.get(entry);
      sent = base ? toDelta(entry.offset, base, entry.record) : this.withoutEvent(entry);
      this.deltas.set(entry, sent);
    }
    return form.events && entry.event !== undefined ? { ...sent, event: entry.event } : sent;
  }

  private withoutEvent(entry: LogEntry): LogEntry {
    if (entry.event === undefined) return entry;
    let plain = this.plain.get(entry);
    if (!plain) this.plain.set(entry, (plain = { offset: entry.offset, record: entry.record }));
    return plain;
  }

  private track(entry: LogEntry): void {
    const { record } = entry;
    const base = this.latest.get(record.id);
    if (base && base.seq === record.seq - 1) this.bases.set(entry, base);
    // After a removal the actor's next record (if it ever has one) goes whole.
    if (record.removed) this.latest.delete(record.id);
    else this.latest.set(record.id, record);
  }

  close(): void {
    for (const unsubscribe of this.unsubscribe) unsubscribe();
    this.followers.clear();
    this.broadcasts.clear();
    this.resets.clear();
  }

  private caughtUp(offset: string): Promise<void> {
    if (this.store.compareOffsets(this.store.delivered(), offset) >= 0) return Promise.resolve();
    return new Promise((resume) => this.waiting.push({ offset, resume }));
  }

  private resumeWaiting(all = false): void {
    if (this.waiting.length === 0) return;
    const delivered = this.store.delivered();
    const still = [];
    for (const waiter of this.waiting) {
      if (all || this.store.compareOffsets(delivered, waiter.offset) >= 0) waiter.resume();
      else still.push(waiter);
    }
    this.waiting = still;
  }

  private enqueue(entries: LogEntry[]): void {
    for (const entry of entries) this.queued.push(entry);
    this.resumeWaiting();
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private async initial(since: string | undefined, filter: Filter | undefined, matches: ReturnType<typeof recordFilter>): Promise<Initial> {
    if (since !== undefined) {
      const changes = await this.store.changesSince(since);
      if (changes) {
        return {
          type: 'replay',
          entries: matches ? changes.filter((entry) => matches(entry.record)) : changes,
          offset: changes.at(-1)?.offset ?? since,
        };
      }
    }
    const snapshot = await this.store.snapshot(filter?.kinds);
    return { type: 'snapshot', snapshot: matches ? { ...snapshot, records: snapshot.records.filter(matches) } : snapshot };
  }
}
