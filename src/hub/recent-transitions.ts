/**
 * The transitions each kind of actor took in the last minute, counted from the log: what
 * `GET /api/machines/:kind/recent` answers and the fleet chart draws heavier. Every hub on a
 * store counts every hub's commits in the log's one order, and a hub that starts reads the last
 * minute back from the log first (`Store.changesStampedFrom`), so a hub started a second ago
 * answers what one that ran through the minute does.
 *
 * A change counts from the actor's previous state value (`countedChange`), so each live actor's
 * last record is kept (the store's own objects, not copies: memory bounded by the live set, let
 * go on removal). Starting, they come from the snapshot; a change read back from the log counts
 * from the change before it there, else from the actor's history (read for at most `lookups`
 * actors; past that, or when the history no longer holds it, `from: null`).
 *
 * The last `held` counted changes are also kept one by one, so a page may ask for the counts as
 * of an offset its stream brought (a little behind this hub's) and add its own changes after it.
 */
import { HubError } from '../protocol/errors.js';
import { RECENT_WINDOW_MS, TransitionWindow, countedChange, windowStart, type CountedChange, type RecentAnswer } from '../protocol/recent.js';
import type { ActorRecord, Kind, LogEntry } from '../protocol/record.js';
import type { Store } from '../store/store.js';

export interface RecentOptions {
  /** Changes read back from the log when the hub starts (or after a gap): the newest, older ones of the minute go uncounted. Default 100,000. */
  backfillLimit?: number;
  /** Actors whose record before the changes read back is read from their history, then. Default 1,000. */
  lookups?: number;
  /** Counted changes kept one by one, for answers as of an earlier offset. Default 20,000. */
  held?: number;
  /** How long an answer waits for the counts to reach the offset asked, or for the read-back (ms); then 503. Default 10,000. */
  patienceMs?: number;
  /** Where a failed read-back is told (it is tried again every second). */
  onError: (error: unknown) => void;
}

const DEFAULTS = { backfillLimit: 100_000, lookups: 1_000, held: 20_000, patienceMs: 10_000 };
/** Histories read at once while starting. */
const LOOKUP_BATCH = 16;

interface Held extends CountedChange {
  offset: string;
  kind: Kind;
}

interface Waiter {
  offset: string | undefined;
  resume: () => void;
  fail: (error: Error) => void;
}

export class RecentTransitions {
  private readonly options: Required<Omit<RecentOptions, 'onError'>> & Pick<RecentOptions, 'onError'>;
  private readonly windows = new Map<Kind, TransitionWindow>();
  /** Each live actor's last record: what its next change counts from. */
  private latest = new Map<string, ActorRecord>();
  /** The newest counted changes, in log order. */
  private held: Held[] = [];
  /** Every counted change after this offset is held; undefined: every one since the read-back. */
  private heldAfter: string | undefined;
  /** The offset the counts are as of; undefined while reading back. */
  private countedTo: string | undefined;
  /** Changes delivered while reading back, counted after it. */
  private buffered: LogEntry[] = [];
  private newestSecond = -Infinity;
  private waiting: Waiter[] = [];
  /** Bumped at each start: a read-back overtaken by another (after a gap) is dropped. */
  private generation = 0;
  private retry: NodeJS.Timeout | undefined;
  private readonly stops: Array<() => void>;

  constructor(
    private readonly store: Store,
    options: RecentOptions,
  ) {
    this.options = { ...DEFAULTS, ...options };
    this.stops = [
      store.subscribe((entries) => this.deliver(entries)),
      // Changes were lost before this hub saw them: read the minute back again.
      store.onGap(() => this.start()),
    ];
    this.start();
  }

  /**
   * The counts for `kind`, as of `offset` when given (an offset of this log, from a stream of
   * this hub), else as of every change counted so far. Waits for the read-back and for the counts
   * to reach `offset`; throws HubError `unavailable` when they do not within `patienceMs`, and
   * `conflict` when `offset` is older than the changes held one by one (ask with a newer one).
   */
  async answer(kind: Kind, offset?: string): Promise<RecentAnswer> {
    await this.caughtUp(offset);
    const countedTo = this.countedTo as string;
    const now = this.store.now();
    const first = windowStart(now);
    let counts = this.windows.get(kind) ?? new TransitionWindow();
    if (offset !== undefined && this.store.compareOffsets(offset, countedTo) < 0) {
      if (this.heldAfter !== undefined && this.store.compareOffsets(offset, this.heldAfter) < 0) {
        throw new HubError('conflict', `the counts as of offset ${offset} are no longer known: ask as of a later offset`, { heldAfter: this.heldAfter });
      }
      counts = counts.copy();
      for (let index = this.held.length - 1; index >= 0; index--) {
        const change = this.held[index] as Held;
        if (this.store.compareOffsets(change.offset, offset) <= 0) break;
        if (change.kind === kind && change.second >= first) counts.add(change.second, change.key, -1);
      }
    }
    return { offset: offset ?? countedTo, now, windowMs: RECENT_WINDOW_MS, buckets: counts.buckets(first) };
  }

  close(): void {
    this.generation += 1;
    clearTimeout(this.retry);
    for (const stop of this.stops) stop();
    for (const waiter of this.waiting.splice(0)) waiter.fail(new HubError('unavailable', 'the hub is closing'));
  }

  private start(): void {
    const generation = ++this.generation;
    this.countedTo = undefined;
    this.buffered = [];
    clearTimeout(this.retry);
    this.readBack(generation).catch((error: unknown) => {
      if (generation !== this.generation) return;
      this.options.onError(error);
      this.retry = setTimeout(() => this.start(), 1_000);
      this.retry.unref();
    });
  }

  /** Counts the last minute from the log, then what was delivered meanwhile. */
  private async readBack(generation: number): Promise<void> {
    const snapshot = await this.store.snapshot();
    const entries = await this.store.changesStampedFrom(windowStart(this.store.now()) * 1_000, this.options.backfillLimit);
    const before = await this.recordsBefore(entries);
    if (generation !== this.generation) return;
    this.windows.clear();
    this.held = [];
    this.heldAfter = undefined;
    this.newestSecond = -Infinity;
    // The record before each change read back: the one before it there, else the history's.
    const last = new Map<string, ActorRecord | undefined>();
    for (const entry of entries) {
      const { record } = entry;
      const previous = last.has(record.id) ? last.get(record.id) : before.get(record.id);
      this.note(entry, countedChange(previous, record, entry.event));
      last.set(record.id, record.removed ? undefined : record);
    }
    // The snapshot is as of the read's start, the changes read back as of its end.
    this.latest = new Map(snapshot.records.map((record) => [record.id, record]));
    for (const [id, record] of last) {
      if (record) this.latest.set(id, record);
      else this.latest.delete(id);
    }
    const end = entries.at(-1)?.offset;
    this.countedTo = end !== undefined && this.store.compareOffsets(end, snapshot.offset) > 0 ? end : snapshot.offset;
    const delivered = this.buffered;
    this.buffered = [];
    this.count(delivered);
  }

  /**
   * For the actors whose first change read back is not their first record: the record before
   * it, from their history, when it holds it and the actor was live then. The newest `lookups`
   * such actors (their changes stay in the window longest).
   */
  private async recordsBefore(entries: LogEntry[]): Promise<Map<string, ActorRecord>> {
    const firstSeq = new Map<string, number>();
    for (const { record } of entries) if (!firstSeq.has(record.id)) firstSeq.set(record.id, record.seq);
    const candidates = [...firstSeq].filter(([, seq]) => seq > 1);
    const wanted = candidates.slice(Math.max(0, candidates.length - this.options.lookups));
    const before = new Map<string, ActorRecord>();
    for (let start = 0; start < wanted.length; start += LOOKUP_BATCH) {
      await Promise.all(
        wanted.slice(start, start + LOOKUP_BATCH).map(async ([id, seq]) => {
          const found = (await this.store.history(id)).find((entry) => entry.record.seq === seq - 1)?.record;
          if (found && !found.removed) before.set(id, found);
        }),
      );
    }
    return before;
  }

  private deliver(entries: LogEntry[]): void {
    if (this.countedTo === undefined) {
      for (const entry of entries) this.buffered.push(entry);
      return;
    }
    this.count(entries);
  }

  /** Counts the entries after what is counted (the read-back may have read ahead of deliveries). */
  private count(entries: LogEntry[]): void {
    for (const entry of entries) {
      if (this.store.compareOffsets(entry.offset, this.countedTo as string) <= 0) continue;
      const { record } = entry;
      this.note(entry, countedChange(this.latest.get(record.id), record, entry.event));
      if (record.removed) this.latest.delete(record.id);
      else this.latest.set(record.id, record);
      this.countedTo = entry.offset;
    }
    this.resumeWaiting();
  }

  private note(entry: LogEntry, counted: CountedChange | undefined): void {
    if (!counted) return;
    const { kind } = entry.record;
    let window = this.windows.get(kind);
    if (!window) this.windows.set(kind, (window = new TransitionWindow()));
    window.add(counted.second, counted.key);
    this.held.push({ ...counted, offset: entry.offset, kind });
    // Trimmed in chunks, so that counting stays amortized O(1).
    if (this.held.length > this.options.held + (this.options.held >> 3)) {
      const cut = this.held.length - this.options.held;
      this.heldAfter = (this.held[cut - 1] as Held).offset;
      this.held = this.held.slice(cut);
    }
    // A new second: the ones the window left for good are let go (one more kept for answers
    // made a moment later than the clock was read here).
    if (counted.second > this.newestSecond) {
      this.newestSecond = counted.second;
      const first = windowStart(this.store.now()) - 1;
      for (const kept of this.windows.values()) kept.expire(first);
    }
  }

  private caughtUp(offset: string | undefined): Promise<void> {
    if (this.reached(offset)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        offset,
        resume: () => {
          clearTimeout(timer);
          resolve();
        },
        fail: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      const timer = setTimeout(() => {
        this.waiting = this.waiting.filter((other) => other !== waiter);
        reject(
          new HubError(
            'unavailable',
            this.countedTo === undefined ? 'the hub is still reading the last minute of its log: try again' : `the hub has not counted up to offset ${offset} yet: try again`,
          ),
        );
      }, this.options.patienceMs);
      this.waiting.push(waiter);
    });
  }

  private reached(offset: string | undefined): boolean {
    return this.countedTo !== undefined && (offset === undefined || this.store.compareOffsets(this.countedTo, offset) >= 0);
  }

  private resumeWaiting(): void {
    if (this.waiting.length === 0) return;
    const still: Waiter[] = [];
    for (const waiter of this.waiting) {
      if (this.reached(waiter.offset)) waiter.resume();
      else still.push(waiter);
    }
    this.waiting = still;
  }
}
