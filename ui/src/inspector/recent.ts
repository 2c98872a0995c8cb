/**
 * The fleet chart's heavier arrows: the transitions a kind took in the last minute, as the log
 * has them, however long the page has been open. The hub's count as of the view's offset
 * (`GET /api/machines/:kind/recent?offset=`), plus every change the view applies after it; asked
 * again after a fresh snapshot (a resync, which may have skipped changes). Both are counted alike
 * (`countedChange`) and kept by the second of the records' time, so what is drawn is a function
 * of the log and the hub's clock: two pages show the same arrows once they hold the same offset.
 */
import type { StateValue } from 'xstate';
import type { View, ViewChange } from '../../../src/client/view.js';
import { TransitionWindow, countedChange, windowStart, type RecentAnswer } from '../../../src/protocol/recent.js';
import type { Kind } from '../../../src/protocol/record.js';
import { takenMarks, type ChartGraph } from './chart-graph.js';
import type { Statechart } from './statechart.js';
import { takenTransitions } from './taken.js';

/** After a failed read (the hub away, or no longer knowing counts that far back), asked again this much later (ms), as of the view's offset then. */
const RETRY_MS = 1_000;

export interface RecentSource {
  /** The view it counts from: the page's monitor of the kind, with events. */
  view: View;
  kind: Kind;
  /** The hub's count as of `offset` (GET /api/machines/:kind/recent?offset=). */
  read(offset: string): Promise<RecentAnswer>;
  /** Called when an answer came in: what is drawn changed without a change of the view. */
  changed(): void;
}

export class RecentArrows {
  private window = new TransitionWindow();
  /** The hub's answer is in: the window holds the whole minute. */
  private answered = false;
  /** Bumped at each read: an answer to an older one is dropped. */
  private reads = 0;
  private retry: ReturnType<typeof setTimeout> | undefined;
  /** `[from, to, event]` -> what the change lights on the chart (takenMarks): a fleet repeats the same few changes. */
  private readonly explained = new Map<string, readonly string[]>();
  private readonly stop: () => void;

  constructor(
    private readonly source: RecentSource,
    private readonly chart: Statechart,
    private readonly graph: ChartGraph,
  ) {
    this.stop = source.view.subscribe((changes, reset) => (reset ? this.restart() : this.add(changes)));
    if (source.view.offset !== undefined) this.restart();
  }

  /** The offset the arrows are as of (the view's), once the hub's count is in; undefined while it is read. */
  offset(): string | undefined {
    return this.answered ? this.source.view.offset : undefined;
  }

  /**
   * Transition and arrow ids (takenMarks) -> changes along them stamped from the second 60 s
   * before `now` (the hub's clock, epoch ms) on, for the changes this chart's version made from a
   * known state; empty while the hub's count is read.
   */
  weights(now: number): Map<string, number> {
    const first = windowStart(now);
    this.window.expire(first);
    const weights = new Map<string, number>();
    if (!this.answered) return weights;
    for (const { version, from, to, event, count } of this.window.totals(first)) {
      if (from === null || version !== this.chart.version) continue;
      for (const mark of this.explain(from, to, event)) weights.set(mark, (weights.get(mark) ?? 0) + count);
    }
    return weights;
  }

  close(): void {
    this.reads += 1;
    clearTimeout(this.retry);
    this.stop();
  }

  /** Starts over from the view's offset: the hub's count as of it, plus what the view applies next. */
  private restart(): void {
    const offset = this.source.view.offset;
    if (offset === undefined) return;
    const read = ++this.reads;
    clearTimeout(this.retry);
    this.window = new TransitionWindow();
    this.answered = false;
    this.source.read(offset).then(
      (answer) => {
        if (read !== this.reads) return;
        this.window.addBuckets(answer.buckets);
        this.answered = true;
        this.source.changed();
      },
      () => {
        if (read === this.reads) this.retry = setTimeout(() => this.restart(), RETRY_MS);
      },
    );
  }

  private add(changes: readonly ViewChange[]): void {
    for (const { previous, record, event } of changes) {
      if (record.kind !== this.source.kind) continue;
      const counted = countedChange(previous, record, event);
      if (counted) this.window.add(counted.second, counted.key);
    }
  }

  private explain(from: StateValue, to: StateValue, event: string | null): readonly string[] {
    const key = JSON.stringify([from, to, event]);
    let marks = this.explained.get(key);
    if (!marks) this.explained.set(key, (marks = takenMarks(this.graph, takenTransitions(this.chart, from, to, event ?? undefined))));
    return marks;
  }
}
