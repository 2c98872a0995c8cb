/**
 * The fleet chart's numbers, kept change by change from a monitor's view: how many actors of a
 * kind rest in each state (parents count their children's) and who they are. Everything here is a
 * function of the records the view applied, so two pages holding the same records show the same
 * counts, and the counts equal what GET /api/snapshot says at the view's offset. (The transitions
 * taken lately are recent.ts's: they need the log's last minute, not only the records.)
 *
 * A chart is one definition version: records made by another (another build of a worker, records
 * from before versions existed) are not placed on it but counted apart, by version.
 */
import type { ViewChange } from '../../../src/client/view.js';
import type { ActorRecord, Kind } from '../../../src/protocol/record.js';
import { activeStates, type Statechart } from './statechart.js';

/** Actors of the kind that are not on this chart, grouped by the version that made their records. */
export interface OffChart {
  /** Undefined: records that carry no version. */
  version: string | undefined;
  count: number;
}

export class FleetTally {
  /** Actor id -> the state ids it is in (root included). */
  private readonly placed = new Map<string, readonly string[]>();
  private readonly counts = new Map<string, number>();
  /** Actor id -> the version of its record, for actors of the kind that are not on the chart. */
  private readonly elsewhere = new Map<string, string | undefined>();

  constructor(
    private readonly chart: Statechart,
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
    for (const { record } of changes) this.place(record);
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

  private bump(id: string, by: number): void {
    const next = (this.counts.get(id) ?? 0) + by;
    if (next === 0) this.counts.delete(id);
    else this.counts.set(id, next);
  }
}
