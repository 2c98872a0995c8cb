/**
 * The embedded store: everything in this process. What `npm start` uses; lost when the process
 * ends. Offsets are `<epoch>-<n>`: the epoch is this store's birth time, so an offset from an
 * earlier process is never mistaken for one of ours.
 */
import { randomBytes } from 'node:crypto';
import BTreeModule from 'sorted-btree';
import type { Requirements } from '../../machines/job.js';
import type { ActorRecord, Kind, LogEntry, Snapshot } from '../protocol/record.js';
import { leaseHolder, queuePlace, type QueuePlace } from './job-index.js';
import { ConflictError, STORE_DEFAULTS, TimerGoneError, type Commit, type LogStats, type Store, type StoreOptions, type Timer } from './store.js';

// A CommonJS package: Node hands its class over as `.default`, Vite's loader as the import itself.
type BTreeClass = typeof BTreeModule.default;
const BTree: BTreeClass = (BTreeModule as unknown as { default?: BTreeClass }).default ?? (BTreeModule as unknown as BTreeClass);

/** Queue order: higher priority first, then older, then id for a total order. */
type QueueKey = readonly [negativePriority: number, createdAt: string, id: string];
const compareQueueKeys = (a: QueueKey, b: QueueKey) =>
  a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0) || (a[2] < b[2] ? -1 : a[2] > b[2] ? 1 : 0);

type TimerKey = readonly [dueAt: number, key: string];
const compareTimerKeys = (a: TimerKey, b: TimerKey) => a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0);

interface Queue {
  requirements: Requirements;
  jobs: InstanceType<typeof BTree<QueueKey, string>>;
}

export class MemoryStore implements Store {
  readonly kind = 'memory';
  // Birth time plus randomness: two stores made in the same millisecond still never share offsets.
  private readonly epoch = `${Date.now().toString(36)}${randomBytes(6).toString('hex')}`;
  private readonly options: Required<StoreOptions>;

  get historyLimit(): number {
    return this.options.historyLimit;
  }
  private readonly live = new Map<string, ActorRecord>();
  /** Removed records, oldest first, readable until they expire. */
  private readonly archive = new Map<string, { record: ActorRecord; expiresAt: number }>();
  private readonly childIds = new Map<string, Set<string>>();
  private readonly histories = new Map<string, LogEntry[]>();
  private log: LogEntry[] = [];
  private lastN = 0;
  /** type -> requirements key -> queue */
  private readonly queues = new Map<string, Map<string, Queue>>();
  private readonly queued = new Map<string, { place: QueuePlace; key: QueueKey }>();
  private readonly leases = new Map<string, Set<string>>();
  private readonly leaseOf = new Map<string, string>();
  private readonly timers = new Map<string, Timer>();
  private readonly timerOrder = new BTree<TimerKey, Timer>(undefined, compareTimerKeys);
  private readonly listeners = new Set<(entries: LogEntry[]) => void>();
  private readonly secrets = new Map<string, string>();
  private lastNow = 0;
  /** The time the last commit with records was stamped with. */
  private lastAt = 0;

  constructor(options: StoreOptions = {}) {
    this.options = { ...STORE_DEFAULTS, ...options };
  }

  /** This process's clock, never less than before (a stepped system clock does not take it back). */
  now(): number {
    this.lastNow = Math.max(this.lastNow, Date.now());
    return this.lastNow;
  }

  async commit(commit: Commit): Promise<LogEntry[]> {
    this.check(commit);
    const now = commit.at ?? this.now();
    if (commit.records.length > 0) this.lastAt = Math.max(this.lastAt, now);
    const entries: LogEntry[] = [];
    commit.records.forEach((record, index) => {
      this.write(record, now);
      this.lastN += 1;
      const event = commit.events?.[index];
      entries.push(event === undefined ? { offset: `${this.epoch}-${this.lastN}`, record } : { offset: `${this.epoch}-${this.lastN}`, record, event });
    });
    if (commit.consumeTimer !== undefined) this.clearTimer(commit.consumeTimer.key);
    for (const key of commit.clearTimers ?? []) this.clearTimer(key);
    for (const timer of commit.setTimers ?? []) this.setTimer(timer);
    if (entries.length > 0) {
      this.append(entries);
      this.remember(entries);
      for (const listener of [...this.listeners]) {
        // The commit stands whatever a listener does; one failing must not starve the others.
        try {
          listener(entries);
        } catch (error) {
          process.emitWarning(`a store listener failed: ${(error as Error).stack ?? String(error)}`);
        }
      }
    }
    return entries;
  }

  async get(id: string): Promise<ActorRecord | undefined> {
    return this.live.get(id) ?? this.archived(id);
  }

  async history(id: string): Promise<LogEntry[]> {
    if (!this.live.has(id) && !this.archived(id)) return [];
    return (this.histories.get(id) ?? []).slice(-this.options.historyLimit);
  }

  async children(parentId: string): Promise<ActorRecord[]> {
    const ids = this.childIds.get(parentId);
    if (!ids) return [];
    const records: ActorRecord[] = [];
    for (const id of ids) {
      const record = this.live.get(id);
      if (record) records.push(record);
    }
    return records;
  }

  async snapshot(kinds?: readonly Kind[]): Promise<Snapshot> {
    const records: ActorRecord[] = [];
    for (const record of this.live.values()) {
      if (!kinds || kinds.includes(record.kind)) records.push(record);
    }
    return { offset: this.offsetOf(this.lastN), records };
  }

  async logStats(): Promise<LogStats> {
    return { appended: this.lastN, length: this.log.length };
  }

  async changesSince(offset: string, limit?: number): Promise<LogEntry[] | undefined> {
    const n = this.parseOffset(offset);
    if (n === undefined || n > this.lastN) return undefined;
    const firstN = this.lastN - this.log.length + 1;
    if (n < firstN - 1) return undefined;
    const start = n - firstN + 1;
    return this.log.slice(start, limit === undefined ? undefined : start + limit);
  }

  async changesStampedFrom(at: number, limit: number): Promise<LogEntry[]> {
    let first = this.log.length;
    while (first > 0 && this.log.length - first < limit && Date.parse((this.log[first - 1] as LogEntry).record.updatedAt) >= at) first -= 1;
    return this.log.slice(first);
  }

  compareOffsets(a: string, b: string): number {
    return (this.parseOffset(a) ?? -1) - (this.parseOffset(b) ?? -1);
  }

  subscribe(listener: (entries: LogEntry[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Subscribers get each change within its commit. */
  delivered(): string {
    return this.offsetOf(this.lastN);
  }

  /** Always answers. */
  onAvailability(): () => void {
    return () => {};
  }

  /** Nothing committed here is ever lost before it is delivered. */
  onGap(): () => void {
    return () => {};
  }

  async pendingJobs(type: string, accept: (requirements: Requirements) => boolean, limit: number): Promise<string[]> {
    const byRequirements = this.queues.get(type);
    if (!byRequirements) return [];
    const candidates: Array<[QueueKey, string]> = [];
    for (const queue of byRequirements.values()) {
      if (!accept(queue.requirements)) continue;
      let taken = 0;
      for (const pair of queue.jobs.entries()) {
        candidates.push(pair);
        if (++taken >= limit) break;
      }
    }
    candidates.sort((a, b) => compareQueueKeys(a[0], b[0]));
    return candidates.slice(0, limit).map(([, id]) => id);
  }

  async leasesOf(workerId: string): Promise<string[]> {
    return [...(this.leases.get(workerId) ?? [])];
  }

  async dueTimers(now: number, limit: number): Promise<Timer[]> {
    const due: Timer[] = [];
    for (const [[dueAt], timer] of this.timerOrder.entries()) {
      if (dueAt > now || due.length >= limit) break;
      due.push(timer);
    }
    return due;
  }

  async nextDueAt(): Promise<number | undefined> {
    return this.timerOrder.minKey()?.[0];
  }

  async putSecret(id: string, value: string): Promise<void> {
    this.secrets.set(id, value);
  }

  async getSecret(id: string): Promise<string | undefined> {
    return this.secrets.get(id);
  }

  async deleteSecret(id: string): Promise<void> {
    this.secrets.delete(id);
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    this.listeners.clear();
  }

  /** Throws ConflictError unless every seq follows the stored one and the consumed timer exists. */
  private check(commit: Commit): void {
    const seqs = new Map<string, number>();
    for (const record of commit.records) {
      const previous = seqs.get(record.id) ?? (this.live.get(record.id) ?? this.archived(record.id))?.seq ?? 0;
      if (record.seq !== previous + 1) {
        throw new ConflictError(`${record.id}: expected seq ${previous + 1}, got ${record.seq}`);
      }
      seqs.set(record.id, record.seq);
    }
    const consumed = commit.consumeTimer;
    if (consumed !== undefined && this.timers.get(consumed.key)?.dueAt !== consumed.dueAt) {
      throw new TimerGoneError(consumed.key);
    }
    // The log never goes back in time: a step stamped before the last commit runs again, later.
    if (commit.records.length > 0 && commit.at !== undefined && commit.at < this.lastAt) {
      throw new ConflictError(`the log is stamped ${this.lastAt} ms: this step's ${commit.at} ms is earlier`);
    }
  }

  private write(record: ActorRecord, now: number): void {
    const previous = this.live.get(record.id);
    if (record.removed) {
      this.live.delete(record.id);
      this.archive.delete(record.id);
      this.archive.set(record.id, { record, expiresAt: now + this.options.archiveRetentionMs });
      this.trimArchive(now);
    } else {
      this.live.set(record.id, record);
      if (!previous) this.archive.delete(record.id);
    }
    this.indexParent(previous, record);
    this.indexQueue(record);
    this.indexLease(record);
  }

  private indexParent(previous: ActorRecord | undefined, record: ActorRecord): void {
    if (previous?.parentId !== undefined && (previous.parentId !== record.parentId || record.removed)) {
      this.childIds.get(previous.parentId)?.delete(record.id);
    }
    if (record.parentId !== undefined && !record.removed) {
      let ids = this.childIds.get(record.parentId);
      if (!ids) this.childIds.set(record.parentId, (ids = new Set()));
      ids.add(record.id);
    }
  }

  private indexQueue(record: ActorRecord): void {
    const before = this.queued.get(record.id);
    if (before) {
      this.queues.get(before.place.type)?.get(before.place.requirementsKey)?.jobs.delete(before.key);
      this.queued.delete(record.id);
    }
    const place = queuePlace(record);
    if (!place) return;
    let byRequirements = this.queues.get(place.type);
    if (!byRequirements) this.queues.set(place.type, (byRequirements = new Map()));
    let queue = byRequirements.get(place.requirementsKey);
    if (!queue) {
      queue = { requirements: place.requirements, jobs: new BTree<QueueKey, string>(undefined, compareQueueKeys) };
      byRequirements.set(place.requirementsKey, queue);
    }
    const key: QueueKey = [-place.priority, place.createdAt, record.id];
    queue.jobs.set(key, record.id);
    this.queued.set(record.id, { place, key });
  }

  private indexLease(record: ActorRecord): void {
    const before = this.leaseOf.get(record.id);
    const holder = leaseHolder(record);
    if (before === holder) return;
    if (before !== undefined) {
      this.leases.get(before)?.delete(record.id);
      this.leaseOf.delete(record.id);
    }
    if (holder !== undefined) {
      let held = this.leases.get(holder);
      if (!held) this.leases.set(holder, (held = new Set()));
      held.add(record.id);
      this.leaseOf.set(record.id, holder);
    }
  }

  private setTimer(timer: Timer): void {
    this.clearTimer(timer.key);
    this.timers.set(timer.key, timer);
    this.timerOrder.set([timer.dueAt, timer.key], timer);
  }

  private clearTimer(key: string): void {
    const timer = this.timers.get(key);
    if (!timer) return;
    this.timers.delete(key);
    this.timerOrder.delete([timer.dueAt, timer.key]);
  }

  private append(entries: LogEntry[]): void {
    for (const entry of entries) this.log.push(entry);
    // Trim in chunks so appends stay amortized O(1).
    const slack = Math.max(1_000, this.options.logLimit >> 3);
    if (this.log.length > this.options.logLimit + slack) this.log = this.log.slice(this.log.length - this.options.logLimit);
  }

  private remember(entries: LogEntry[]): void {
    const limit = this.options.historyLimit;
    if (limit <= 0) return;
    for (const entry of entries) {
      let history = this.histories.get(entry.record.id);
      if (!history) this.histories.set(entry.record.id, (history = []));
      history.push(entry);
      // Trim in chunks so appends stay amortized O(1).
      if (history.length > limit + (limit >> 2) + 1) history.splice(0, history.length - limit);
    }
  }

  private archived(id: string): ActorRecord | undefined {
    const held = this.archive.get(id);
    return held && held.expiresAt > this.now() ? held.record : undefined;
  }

  private trimArchive(now: number): void {
    for (const [id, held] of this.archive) {
      if (this.archive.size <= this.options.archiveLimit && held.expiresAt > now) break;
      this.archive.delete(id);
      this.histories.delete(id);
    }
  }

  private offsetOf(n: number): string {
    return `${this.epoch}-${n}`;
  }

  private parseOffset(offset: string): number | undefined {
    const dash = offset.lastIndexOf('-');
    if (dash < 0 || offset.slice(0, dash) !== this.epoch) return undefined;
    const digits = offset.slice(dash + 1);
    if (!/^(0|[1-9][0-9]*)$/.test(digits)) return undefined;
    const n = Number(digits);
    return Number.isSafeInteger(n) ? n : undefined;
  }
}
