/**
 * The store contract: where records, the ordered log, pending-job queues, leases and durable
 * timers live. Two implementations (memory, redis) pass one contract test suite.
 *
 * Records handed in and out are treated as immutable: nobody mutates a record once committed,
 * so the store may hand out the objects it holds without copying.
 */
import type { ActorRecord, ChangeEvent, Kind, LogEntry, Snapshot } from '../protocol/record.js';
import type { Requirements } from '../../machines/job.js';

/** A delayed event: delivered to `actorId` at `dueAt`, unless cleared first. */
export interface Timer {
  /** Unique per timer; setting a timer with an existing key replaces it. */
  key: string;
  actorId: string;
  /** Epoch milliseconds. */
  dueAt: number;
  event: { type: string; [key: string]: unknown };
}

export type TimerRef = Pick<Timer, 'key' | 'dueAt'>;

export interface Commit {
  /**
   * Records to write, in order. An actor's records must carry consecutive seq values starting
   * at its stored seq + 1 (1 for an actor the store does not hold).
   */
  records: ActorRecord[];
  /** The event that caused each record, at the same index (undefined: none recorded). Kept with its log entry and in the actor's history. */
  events?: ReadonlyArray<ChangeEvent | undefined>;
  setTimers?: Timer[];
  clearTimers?: string[];
  /**
   * Commit only if this timer still exists with this due time (a reset timer is a new one),
   * and remove it: the step acting on a due timer.
   */
  consumeTimer?: TimerRef;
  /** The time (`now()`, ms) the records are stamped with. Default: now. */
  at?: number;
}

/** A commit lost a race: an actor's seq moved on, or the consumed timer is gone. Retry from fresh reads. */
export class ConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConflictError';
  }
}

/**
 * A commit's consumed timer is gone or was reset: another step took it, or set it again. Unlike
 * other conflicts, making the step again cannot help.
 */
export class TimerGoneError extends ConflictError {
  constructor(key: string) {
    super(`timer ${key} is gone or was reset`);
    this.name = 'TimerGoneError';
  }
}

/**
 * The store cannot be reached or did not answer. `maybeApplied`: the request went out and its
 * answer did not come back (a timeout, a connection lost while waiting), so a write may have been
 * made all the same; false when it never left.
 */
export class StoreUnavailableError extends Error {
  readonly maybeApplied: boolean;

  constructor(message: string, options?: { cause?: unknown; maybeApplied?: boolean }) {
    super(message, options);
    this.name = 'StoreUnavailableError';
    this.maybeApplied = options?.maybeApplied ?? false;
  }
}

export interface StoreOptions {
  /** Log entries kept for `since` resumes; older resumes get a fresh snapshot. */
  logLimit?: number;
  /** How long a removed record stays readable by id. */
  archiveRetentionMs?: number;
  /** Upper bound on removed records kept readable (each with its history): bounds the memory a busy hub's archive takes. */
  archiveLimit?: number;
  /**
   * Changes kept per actor for its history (a job's page, the inspector's time travel); the oldest
   * go first. 0 keeps none. The default, 1,000, keeps a whole job's life (a change per state and
   * per progress report) but for jobs that report progress more often than that.
   */
  historyLimit?: number;
}

/** See `Store.logStats`. */
export interface LogStats {
  appended: number | undefined;
  length: number;
}

export const STORE_DEFAULTS = {
  logLimit: 100_000,
  archiveRetentionMs: 24 * 60 * 60_000,
  archiveLimit: 100_000,
  historyLimit: 1_000,
} as const;

export interface Store {
  readonly kind: 'memory' | 'redis';
  /**
   * Epoch ms on the store's clock: the one every hub using this store reads (Redis's TIME; the
   * process clock for the memory store), never less than before. Records' times and timers'
   * due times are set and compared on it, never on a hub's own clock.
   */
  now(): number;
  /** Changes kept per actor for `history` (StoreOptions.historyLimit). */
  readonly historyLimit: number;
  /**
   * Writes every record, appends each to the log at a new offset, updates the pending-job and
   * lease indexes and the timers: all or nothing. Throws ConflictError when a seq does not
   * match, or when `at` is earlier than the last commit's (the log never goes back in time; the
   * store's clock then reads later); TimerGoneError (a ConflictError) when the consumed timer
   * is gone or was reset.
   */
  commit(commit: Commit): Promise<LogEntry[]>;
  /** A live record, or a removed one still within its retention. */
  get(id: string): Promise<ActorRecord | undefined>;
  /** The actor's last changes (at most historyLimit), oldest first, each with its event: while it lives and while its removal is retained. */
  history(id: string): Promise<LogEntry[]>;
  /** Live records whose parentId is `parentId`. */
  children(parentId: string): Promise<ActorRecord[]>;
  /** Every live record (of the given kinds), and the offset of the last change it includes. */
  snapshot(kinds?: readonly Kind[]): Promise<Snapshot>;
  /**
   * Every change after `offset` (with `limit`, the earliest `limit` of them), or undefined when
   * they are not all held any more (or the offset is not from this log).
   */
  changesSince(offset: string, limit?: number): Promise<LogEntry[] | undefined>;
  /**
   * The log's size: `appended`, changes appended since the log began (the position of its head;
   * undefined where the store cannot tell, e.g. Redis before 7.0), and `length`, changes it holds
   * now (what a `since` resume can be replayed from; the oldest are trimmed past the log limit).
   */
  logStats(): Promise<LogStats>;
  /**
   * The log's changes stamped at or after `at` (epoch ms on the store's clock, read from each
   * record's `updatedAt`), oldest first: what a hub that starts reads to count the last minute
   * as one that ran through it did. At most `limit` (> 0) of them: when more were stamped since,
   * the newest `limit`, the older ones left out. Only what the log still holds (`logLimit`
   * entries). Records' times follow the log's order (a commit stamped before the last is
   * refused), so the read goes back from the log's end and stops at the first earlier one.
   */
  changesStampedFrom(at: number, limit: number): Promise<LogEntry[]>;
  /** Orders two offsets of this log: negative when a is earlier. */
  compareOffsets(a: string, b: string): number;
  /** Calls `listener` with every committed change, in offset order, batch by batch. */
  subscribe(listener: (entries: LogEntry[]) => void): () => void;
  /**
   * The offset up to which changes have been handed to subscribers. A store whose subscribers
   * lag behind its commits (Redis: a tail) may have committed, and served in snapshots, changes
   * beyond it.
   */
  delivered(): string;
  /**
   * Calls `listener` when changes were lost before this process could deliver them (the log was
   * trimmed under a slow reader, or the data wiped): whatever was built from the log must be
   * rebuilt. A store that cannot lose changes never calls it.
   */
  onGap(listener: () => void): () => void;
  /** Ids of the best pending jobs of `type` (priority, then age) among those whose requirements `accept` takes. */
  pendingJobs(type: string, accept: (requirements: Requirements) => boolean, limit: number): Promise<string[]>;
  /** Ids of the jobs a worker holds (assigned or running). */
  leasesOf(workerId: string): Promise<string[]>;
  /** Timers due at or before `now`, earliest first. */
  dueTimers(now: number, limit: number): Promise<Timer[]>;
  /** When the earliest timer is due, if any. */
  nextDueAt(): Promise<number | undefined>;
  /**
   * Keeps `value` as the secret of actor `id` (a webhook's signing key), replacing any earlier one.
   * Secrets live beside the records, never in one: whoever may read records (monitors) must not
   * read them. They are not in the log, snapshots or histories.
   */
  putSecret(id: string, value: string): Promise<void>;
  /** The secret of `id`, or undefined when it has none. */
  getSecret(id: string): Promise<string | undefined>;
  /** Forgets the secret of `id` (nothing happens when it has none). */
  deleteSecret(id: string): Promise<void>;
  /** Resolves when the store answers. */
  ping(): Promise<void>;
  /**
   * Calls `listener` when the store stops answering (with why) and when it answers again: what an
   * operator reads in the log. The memory store always answers.
   */
  onAvailability(listener: (available: boolean, reason?: string) => void): () => void;
  close(): Promise<void>;
}
