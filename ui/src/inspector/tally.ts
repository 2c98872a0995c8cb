/**
 * The fleet chart's numbers, kept change by change from a monitor's view: how many actors of a
 * kind rest in each state (parents count their children's), who they are, and which transitions
 * they took lately. Everything here is a function of the records the view applied (and, for
 * "lately", of the clock the caller passes), so two pages holding the same records show the same
 * counts, and the counts equal what GET /api/snapshot says at the view's offset.
 *
 * A chart is one definition version: records made by another (another build of a worker, records
 * from before versions existed) are not placed on it but counted apart, by version.
 */
import type { StateValue } from 'xstate';
import type { ViewChange } from '../../../src/client/view.js';
import type { ActorRecord, Kind } from '../../../src/protocol/record.js';
import { takenMarks, type ChartGraph } from './chart-graph.js';
import { activeStates, type Statechart } from './statechart.js';
import { takenTransitions } from './taken.js';

/** Actors of the kind that are not on this chart, grouped by the version that made their records. */
export interface OffChart {
  /** Undefined: records that carry no version. */
  version: string | undefined;
  count: number;
}

export const RECENT_WINDOW_MS = 60_000;

export class FleetTally {
  /** Actor id -> the state ids it is in (root included). */
  private readonly placed = new Map<string, readonly string[]>();
  private readonly counts = new Map<string, number>();
  /** Actor id -> the version of its record, for actors of the kind that are not on the chart. */
  private readonly elsewhere = new Map<string, string | undefined>();
  /** Whole second (epoch s, the records' clock) -> transition or arrow id -> times taken. */
  private readonly taken = new Map<number, Map<string, number>>();
  /** `from` value -> `to` value -> what the change lit (takenMarks): a fleet repeats the same few changes. */
  private readonly explained = new Map<string, readonly string[]>();
  private newestSecond = 0;

  constructor(
    private readonly chart: Statechart,
    private readonly graph: ChartGraph,
    readonly kind: Kind,
    records: Iterable<ActorRecord> = [],
  ) {
    for (const record of records) this.place(record);
  }

  /** Applies a batch the view applied; `reset` (a fresh snapshot) starts the counts over from `changes`. */
  apply(changes: readonly ViewChange[], reset: boolean): void {
    if (reset) {
      this.placed.clear();
      this.counts.clear();
      this.elsewhere.clear();
    }
    for (const { record, previous } of changes) {
      this.place(record);
      if (previous && record.kind === this.kind && !record.removed && previous.seq < record.seq) this.noteTaken(previous, record);
    }
  }

  /** Actors in `stateId` or inside it. */
  count(stateId: string): number {
    return this.counts.get(stateId) ?? 0;
  }

  /** Every state's count (absent: none). */
  allCounts(): ReadonlyMap<string, number> {
    return this.counts;
  }

  /** Ids of the actors in `stateId` or inside it, sorted. */
  actorsIn(stateId: string): string[] {
    const ids: string[] = [];
    for (const [id, states] of this.placed) if (states.includes(stateId)) ids.push(id);
    return ids.sort();
  }

  offChart(): OffChart[] {
    const byVersion = new Map<string | undefined, number>();
    for (const version of this.elsewhere.values()) byVersion.set(version, (byVersion.get(version) ?? 0) + 1);
    return [...byVersion].map(([version, count]) => ({ version, count }));
  }

  /**
   * Transition id or arrow id (ChartEdge.id) -> how many changes stamped in the minute up to
   * `now` (to the whole second, on the records' clock: the hub's) took it.
   */
  recent(now: number): Map<string, number> {
    const until = Math.floor(now / 1_000);
    const from = until - RECENT_WINDOW_MS / 1_000;
    const sums = new Map<string, number>();
    for (const [second, counts] of this.taken) {
      if (second < from || second > until) continue;
      for (const [id, times] of counts) sums.set(id, (sums.get(id) ?? 0) + times);
    }
    return sums;
  }

  private place(record: ActorRecord): void {
    if (record.kind !== this.kind) return;
    const before = this.placed.get(record.id);
    if (before) for (const id of before) this.bump(id, -1);
    this.placed.delete(record.id);
    this.elsewhere.delete(record.id);
    if (record.removed) return;
    const states = record.version === this.chart.version ? activeStates(this.chart, record.snapshot.value) : undefined;
    if (!states) {
      this.elsewhere.set(record.id, record.version);
      return;
    }
    const list = [...states];
    this.placed.set(record.id, list);
    for (const id of list) this.bump(id, 1);
  }

  private noteTaken(previous: ActorRecord, record: ActorRecord): void {
    if (previous.version !== this.chart.version || record.version !== this.chart.version) return;
    const marks = this.explain(previous.snapshot.value, record.snapshot.value);
    if (marks.length === 0) return;
    const second = Math.floor(Date.parse(record.updatedAt) / 1_000);
    if (!Number.isFinite(second)) return;
    let counts = this.taken.get(second);
    if (!counts) this.taken.set(second, (counts = new Map()));
    for (const id of marks) counts.set(id, (counts.get(id) ?? 0) + 1);
    // Out of the window for good: dropped, so a long-open page holds a minute, not a day.
    if (second > this.newestSecond) {
      this.newestSecond = second;
      for (const kept of this.taken.keys()) if (kept < second - RECENT_WINDOW_MS / 1_000 - 1) this.taken.delete(kept);
    }
  }

  private explain(from: StateValue, to: StateValue): readonly string[] {
    const key = `${JSON.stringify(from)}>${JSON.stringify(to)}`;
    let marks = this.explained.get(key);
    if (!marks) this.explained.set(key, (marks = takenMarks(this.graph, takenTransitions(this.chart, from, to))));
    return marks;
  }

  private bump(id: string, by: number): void {
    const next = (this.counts.get(id) ?? 0) + by;
    if (next === 0) this.counts.delete(id);
    else this.counts.set(id, next);
  }
}
