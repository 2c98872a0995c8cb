/**
 * The fleet chart's heavier arrows (ui/src/inspector/recent.ts): the hub's count of the last
 * minute as of the view's offset plus the changes the view applies after it, by the second of the
 * records' time, expired by the clock; asked again after a fresh snapshot or a failed read; each
 * change explained on the chart by its previous and new values, narrowed by its event.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { StateValue } from 'xstate';
import { View } from '../../src/client/view.js';
import type { RecentAnswer, RecentTransition } from '../../src/protocol/recent.js';
import type { ActorRecord, Kind } from '../../src/protocol/record.js';
import { chartGraph } from '../../ui/src/inspector/chart-graph.js';
import { RecentArrows } from '../../ui/src/inspector/recent.js';
import type { Statechart } from '../../ui/src/inspector/statechart.js';
import { recordOf, statechartOf } from './inspector-support.js';

const job = statechartOf('job');
const connector = statechartOf('connector');
const NOON = Date.UTC(2026, 10, 30, 12, 0, 0);
const at = (second: number) => new Date(NOON + second * 1_000).toISOString();

/** A transition of the job chart by its source state and its text. */
const jobTransition = (source: string, text: string) => job.transitions.find((transition) => transition.source === `job.${source}` && transition.text === text)?.id as string;

/** What the job chart draws for so many changes along ASSIGN, START (each a transition and its arrow) and PROGRESS (a line in its state). */
function jobWeights(counts: { assign?: number; start?: number; progress?: number }): Map<string, number> {
  const weights = new Map<string, number>();
  const along = (ids: string[], count = 0) => {
    if (count > 0) for (const id of ids) weights.set(id, count);
  };
  along([jobTransition('pending', 'ASSIGN'), 'job.pending->job.assigned'], counts.assign);
  along([jobTransition('assigned', 'START'), 'job.assigned->job.running'], counts.start);
  along([jobTransition('running', 'PROGRESS')], counts.progress);
  return weights;
}

/** A view, the arrows drawn from it, and the reads of the hub's count it made, each answered by the test. */
function setup(chart: Statechart, kind: Kind, records: ActorRecord[] = []) {
  const view = new View();
  view.applySnapshot({ offset: 's0', records });
  const reads: Array<{ offset: string; answer: (buckets: RecentAnswer['buckets']) => void; fail: () => void }> = [];
  let redrawn = 0;
  const arrows = new RecentArrows(
    {
      view,
      kind,
      read: (offset) =>
        new Promise((resolve, reject) => reads.push({ offset, answer: (buckets) => resolve({ offset, now: NOON, windowMs: 60_000, buckets }), fail: () => reject(new Error('409')) })),
      changed: () => (redrawn += 1),
    },
    chart,
    chartGraph(chart),
  );
  let offset = 0;
  const latest = new Map(records.map((record) => [record.id, record]));
  /** The actor's next record in `value`, stamped `second`, caused by `event`, applied by the view. */
  const change = (id: string, value: StateValue, second: number, event: string) => {
    const record = recordOf(kind, id, (latest.get(id)?.seq ?? 0) + 1, value, { updatedAt: at(second), version: chart.version });
    latest.set(id, record);
    view.applyTransitions([{ offset: `c${++offset}`, record, event: { type: event } }]);
  };
  return { view, arrows, reads, change, redrawn: () => redrawn };
}

const counted = (from: StateValue | null, to: StateValue, event: string, count: number, version = job.version): RecentTransition => ({ version, from, to, event, count });

afterEach(() => {
  vi.useRealTimers();
});

describe('RecentArrows', () => {
  it('draws the hub’s count as of the view’s offset plus the changes the view applied after it, in the minute before the clock', async () => {
    const { arrows, reads, change, redrawn } = setup(job, 'job', [recordOf('job', 'a', 1, 'pending', { version: job.version })]);
    expect(reads.map((read) => read.offset)).toEqual(['s0']);
    // Applied while the hub is asked: after the offset asked, so counted on top of its answer.
    change('a', 'assigned', 5, 'ASSIGN');
    expect(arrows.offset()).toBeUndefined();
    expect(arrows.weights(NOON + 5_000)).toEqual(new Map());
    reads[0]!.answer([
      { at: at(-30), transitions: [counted('pending', 'assigned', 'ASSIGN', 2), counted(null, 'pending', 'xstate.init', 3)] },
      { at: at(2), transitions: [counted('assigned', 'running', 'START', 1)] },
    ]);
    await vi.waitFor(() => expect(arrows.offset()).toBe('c1'));
    expect(redrawn()).toBe(1);
    expect(arrows.weights(NOON + 5_000)).toEqual(jobWeights({ assign: 3, start: 1 }));
    change('a', 'running', 6, 'START');
    change('a', 'running', 6, 'PROGRESS');
    expect(arrows.offset()).toBe('c3');
    // 40 s later the second 30 s before noon has left the minute; 70 s later, all but the last two changes.
    expect(arrows.weights(NOON + 40_000)).toEqual(jobWeights({ assign: 1, start: 2, progress: 1 }));
    expect(arrows.weights(NOON + 66_000)).toEqual(jobWeights({ start: 1, progress: 1 }));
    expect(arrows.weights(NOON + 67_000)).toEqual(new Map());
  });

  it('asks again after a fresh snapshot, dropping what it held and any answer to an older read, and after a failed read, as of the view’s offset then', async () => {
    vi.useFakeTimers();
    const { view, arrows, reads, change } = setup(job, 'job');
    reads[0]!.answer([{ at: at(1), transitions: [counted('pending', 'assigned', 'ASSIGN', 4)] }]);
    await vi.waitFor(() => expect(arrows.offset()).toBe('s0'));
    change('a', 'pending', 2, 'xstate.init');

    view.applySnapshot({ offset: 's9', records: [...view.records.values()] });
    view.applySnapshot({ offset: 's10', records: [...view.records.values()] });
    expect(reads.map((read) => read.offset)).toEqual(['s0', 's9', 's10']);
    reads[1]!.answer([{ at: at(1), transitions: [counted('pending', 'assigned', 'ASSIGN', 50)] }]);
    reads[2]!.fail();
    await vi.advanceTimersByTimeAsync(0);
    expect(arrows.offset()).toBeUndefined();
    change('a', 'assigned', 3, 'ASSIGN');
    // The hub could not answer as of s10: asked again a moment later, as of what the view holds then.
    await vi.advanceTimersByTimeAsync(1_000);
    expect(reads.map((read) => read.offset)).toEqual(['s0', 's9', 's10', 'c2']);
    change('a', 'running', 4, 'START');
    reads[3]!.answer([{ at: at(3), transitions: [counted('pending', 'assigned', 'ASSIGN', 1)] }]);
    await vi.waitFor(() => expect(arrows.offset()).toBe('c3'));
    expect(arrows.weights(NOON + 5_000)).toEqual(jobWeights({ assign: 1, start: 1 }));
  });

  it('counts a change once on an arrow, however many of its transitions the values allow, and narrows it by the event', async () => {
    const { arrows, reads, change } = setup(connector, 'connector', [recordOf('connector', 'c', 1, 'active', { version: connector.version })]);
    change('c', { idle: 'ready' }, 1, 'JOB_DONE');
    reads[0]!.answer([{ at: at(1), transitions: [counted('active', { idle: 'ready' }, 'CANCEL', 1, connector.version), counted('active', { idle: 'ready' }, 'SOMETHING', 1, connector.version)] }]);
    await vi.waitFor(() => expect(arrows.offset()).toBe('c1'));
    const weights = arrows.weights(NOON + 2_000);
    const lines = chartGraph(connector).edges.find((edge) => edge.id === 'connector.active->connector.idle')?.lines ?? [];
    expect(lines.map((line) => line.text)).toEqual(expect.arrayContaining(['JOB_DONE', 'JOB_FAILED', 'CANCEL [isCurrentJob]']));
    expect(weights.get('connector.active->connector.idle')).toBe(3);
    const byEvent = (text: string) => connector.transitions.find((transition) => transition.source === 'connector.active' && transition.text === text)?.id as string;
    // JOB_DONE and CANCEL each named theirs; an event no transition takes leaves all three possible.
    expect(weights.get(byEvent('JOB_DONE'))).toBe(2);
    expect(weights.get(byEvent('CANCEL [isCurrentJob]'))).toBe(2);
    expect(weights.get(byEvent('JOB_FAILED'))).toBe(1);
  });

  it('draws no arrow for a first record, a change from another version or of another kind', async () => {
    const { arrows, reads, change } = setup(job, 'job', [recordOf('job', 'old', 1, 'pending', { version: 'other' })]);
    change('new', 'pending', 1, 'xstate.init');
    change('old', 'assigned', 1, 'ASSIGN');
    reads[0]!.answer([{ at: at(1), transitions: [counted(null, 'assigned', 'ASSIGN', 5), counted('pending', 'assigned', 'ASSIGN', 5, 'other')] }]);
    await vi.waitFor(() => expect(arrows.offset()).toBe('c2'));
    expect(arrows.weights(NOON + 2_000)).toEqual(new Map());
  });
});
