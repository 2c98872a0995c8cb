/**
 * The transitions a kind of actor took in the last minute: counts per whole second of the
 * records' time (`updatedAt`, stamped on the store's clock), per definition version, previous
 * state value, new state value and event type. The hub counts them from its log
 * (`GET /api/machines/:kind/recent`); the fleet page adds what its stream brings after that. Both
 * count a change with `countedChange` and keep the counts in a `TransitionWindow`, so they count
 * alike.
 */
import type { StateValue } from 'xstate';
import type { ActorRecord, ChangeEvent } from './record.js';

/** How far back "the last minute" reaches: changes stamped in the current second or the 60 before it. */
export const RECENT_WINDOW_MS = 60_000;
const WINDOW_SECONDS = RECENT_WINDOW_MS / 1_000;

/** One kind of change and how many times it was made. */
export interface RecentTransition {
  /** The definition version that made the new record (null: a record that carries none). */
  version: string | null;
  /**
   * The actor's state value before the change: null for its first record, its first after a
   * removal, one whose previous record another version made, or one whose previous record the
   * hub could not read (see the README).
   */
  from: StateValue | null;
  to: StateValue;
  /** The type of the event that caused it (null: none recorded). */
  event: string | null;
  count: number;
}

export interface RecentBucket {
  /** The whole second the changes were stamped in (ISO-8601, the store's clock). */
  at: string;
  transitions: RecentTransition[];
}

/** `GET /api/machines/:kind/recent`. */
export interface RecentAnswer {
  /** The log offset the counts are as of: every change up to it, none after it. */
  offset: string;
  /** The hub's clock when it answered, epoch ms. */
  now: number;
  windowMs: number;
  /** Oldest first, from the second 60 s before `now` on; seconds without a change are left out. */
  buckets: RecentBucket[];
}

/** One change as counted: the second it was stamped in (epoch s) and a TransitionWindow key. */
export interface CountedChange {
  second: number;
  key: string;
}

/**
 * What a change counts as. `previous`: the actor's record before it, if the actor was live (a
 * removal's record is no previous: the actor starts over). Undefined when it counts as nothing:
 * a removal (the actor leaves, in the state it was in), or a record whose time cannot be read.
 */
export function countedChange(previous: ActorRecord | undefined, record: ActorRecord, event: ChangeEvent | undefined): CountedChange | undefined {
  if (record.removed) return undefined;
  const second = Math.floor(Date.parse(record.updatedAt) / 1_000);
  if (!Number.isFinite(second)) return undefined;
  const version = record.version ?? null;
  const from = previous && (previous.version ?? null) === version ? previous.snapshot.value : null;
  return { second, key: keyOf({ version, from, to: record.snapshot.value, event: event?.type ?? null }) };
}

/** The first second (epoch s) of the window at `now` (epoch ms). */
export function windowStart(now: number): number {
  return Math.floor(now / 1_000) - WINDOW_SECONDS;
}

type Transition = Omit<RecentTransition, 'count'>;

/** Counted changes by second and key; seconds before the window are let go with `expire`. */
export class TransitionWindow {
  /** Whole second (epoch s) -> key -> count (never 0). */
  private readonly seconds = new Map<number, Map<string, number>>();
  /** Key -> what it names, read once. */
  private readonly named = new Map<string, Transition>();

  /** Counts `by` (negative takes away) more of `key` in `second`. */
  add(second: number, key: string, by = 1): void {
    let counts = this.seconds.get(second);
    if (!counts) this.seconds.set(second, (counts = new Map()));
    const next = (counts.get(key) ?? 0) + by;
    if (next !== 0) counts.set(key, next);
    else {
      counts.delete(key);
      if (counts.size === 0) this.seconds.delete(second);
    }
  }

  /** Adds counts as `buckets` (an answer's) give them. */
  addBuckets(buckets: readonly RecentBucket[]): void {
    for (const bucket of buckets) {
      const second = Math.floor(Date.parse(bucket.at) / 1_000);
      if (!Number.isFinite(second)) continue;
      for (const { count, ...transition } of bucket.transitions) this.add(second, keyOf(transition), count);
    }
  }

  /** Lets go of the seconds before `first` (epoch s). */
  expire(first: number): void {
    for (const second of this.seconds.keys()) if (second < first) this.seconds.delete(second);
  }

  copy(): TransitionWindow {
    const copy = new TransitionWindow();
    for (const [second, counts] of this.seconds) copy.seconds.set(second, new Map(counts));
    return copy;
  }

  /** The seconds from `first` (epoch s) on, oldest first, each with its counts. */
  buckets(first: number): RecentBucket[] {
    return [...this.seconds]
      .filter(([second]) => second >= first)
      .sort(([a], [b]) => a - b)
      .map(([second, counts]) => ({ at: new Date(second * 1_000).toISOString(), transitions: [...counts].map(([key, count]) => ({ ...this.name(key), count })) }));
  }

  /** Each kind of change counted from `first` (epoch s) on, summed over the seconds. */
  totals(first: number): RecentTransition[] {
    const sums = new Map<string, number>();
    for (const [second, counts] of this.seconds) {
      if (second < first) continue;
      for (const [key, count] of counts) sums.set(key, (sums.get(key) ?? 0) + count);
    }
    return [...sums].map(([key, count]) => ({ ...this.name(key), count }));
  }

  private name(key: string): Transition {
    let named = this.named.get(key);
    if (!named) {
      const [version, from, to, event] = JSON.parse(key) as [string | null, StateValue | null, StateValue, string | null];
      this.named.set(key, (named = { version, from, to, event }));
    }
    return named;
  }
}

/** The key `countedChange` makes for the same transition. */
function keyOf(transition: Transition): string {
  return JSON.stringify([transition.version, transition.from, transition.to, transition.event]);
}
