/**
 * The fleet chart's counts are a function of the records: kept change by change, they equal a
 * count of the records the view holds, whatever the changes were; transitions taken are counted
 * per change, in the minute before the clock given.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { View } from '../../src/client/view.js';
import type { ActorRecord } from '../../src/protocol/record.js';
import { chartGraph } from '../../ui/src/inspector/chart-graph.js';
import { activeStates } from '../../ui/src/inspector/statechart.js';
import { FleetTally } from '../../ui/src/inspector/tally.js';
import { recordOf, statechartOf } from './inspector-support.js';

const connector = statechartOf('connector');
const job = statechartOf('job');
const VALUES = ['starting', { idle: 'ready' }, { idle: 'checking' }, 'active', 'error', 'stopped', 'offline'] as const;

/** The counts straight from the records: what GET /api/snapshot would give for the same offset. */
function countRecords(records: Iterable<ActorRecord>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const record of records) {
    if (record.kind !== 'connector' || record.version !== connector.version) continue;
    for (const id of activeStates(connector, record.snapshot.value) ?? []) counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

describe('FleetTally', () => {
  it('counts equal a count of the view’s records after any sequence of changes, removals, other kinds, other versions and fresh snapshots', () => {
    const step = fc.oneof(
      fc.record({
        type: fc.constant('change' as const),
        actor: fc.integer({ min: 0, max: 5 }),
        value: fc.integer({ min: 0, max: VALUES.length - 1 }),
        removed: fc.boolean(),
        otherVersion: fc.boolean(),
        kind: fc.constantFrom('connector' as const, 'worker' as const),
      }),
      fc.record({ type: fc.constant('snapshot' as const) }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
        const view = new View();
        view.applySnapshot({ offset: '0', records: [] });
        const tally = new FleetTally(connector, chartGraph(connector), 'connector', view.records.values());
        view.subscribe((changes, reset) => tally.apply(changes, reset));
        let offset = 0;
        for (const item of steps) {
          if (item.type === 'snapshot') {
            // A resync: the same records, offered whole.
            view.applySnapshot({ offset: String(++offset), records: [...view.records.values()] });
            continue;
          }
          const id = `${item.kind}-${item.actor}`;
          const seq = (view.records.get(id)?.seq ?? 0) + 1;
          view.applyTransitions([
            {
              offset: String(++offset),
              record: recordOf(item.kind, id, seq, VALUES[item.value] as ActorRecord['snapshot']['value'], {
                version: item.otherVersion ? 'elsewhere' : connector.version,
                ...(item.removed ? { removed: true as const } : {}),
              }),
            },
          ]);
        }
        expect(new Map(tally.allCounts())).toEqual(countRecords(view.records.values()));
        const elsewhere = [...view.records.values()].filter((record) => record.kind === 'connector' && record.version !== connector.version).length;
        expect(tally.offChart().reduce((sum, group) => sum + group.count, 0)).toBe(elsewhere);
        for (const state of connector.states.keys()) {
          expect(tally.actorsIn(state)).toEqual(
            [...view.records.values()]
              .filter((record) => record.kind === 'connector' && record.version === connector.version && activeStates(connector, record.snapshot.value)?.has(state))
              .map((record) => record.id)
              .sort(),
          );
        }
      }),
    );
  });

  it('counts the transitions each change took, in the minute before the clock, and only those', () => {
    const view = new View();
    view.applySnapshot({ offset: '0', records: [] });
    const tally = new FleetTally(job, chartGraph(job), 'job', []);
    view.subscribe((changes, reset) => tally.apply(changes, reset));
    const at = (second: number) => ({ updatedAt: new Date(Date.UTC(2026, 10, 30, 12, 0, 0) + second * 1_000).toISOString(), version: job.version });
    let offset = 0;
    const change = (id: string, seq: number, value: string, second: number) => view.applyTransitions([{ offset: String(++offset), record: recordOf('job', id, seq, value, at(second)) }]);
    const id = (source: string, text: string) => job.transitions.find((transition) => transition.source === `job.${source}` && transition.text === text)?.id as string;
    const noon = Date.UTC(2026, 10, 30, 12, 0, 0);
    change('a', 1, 'pending', 0);
    change('a', 2, 'assigned', 1);
    change('a', 3, 'running', 2);
    change('a', 4, 'running', 3);
    // Transitions by id, and the arrows they are drawn on (an arrow's number counts changes).
    expect(tally.recent(noon + 2_000)).toEqual(
      new Map([
        [id('pending', 'ASSIGN'), 1],
        ['job.pending->job.assigned', 1],
        [id('assigned', 'START'), 1],
        ['job.assigned->job.running', 1],
      ]),
    );
    expect(tally.recent(noon + 30_000)).toEqual(
      new Map([
        [id('pending', 'ASSIGN'), 1],
        ['job.pending->job.assigned', 1],
        [id('assigned', 'START'), 1],
        ['job.assigned->job.running', 1],
        [id('running', 'PROGRESS'), 1],
      ]),
    );
    change('b', 1, 'pending', 60);
    change('b', 2, 'assigned', 62);
    change('a', 5, 'completed', 62);
    change('c', 1, 'pending', 62);
    change('c', 2, 'assigned', 62);
    expect(tally.recent(noon + 62_000)).toEqual(
      new Map([
        [id('assigned', 'START'), 1],
        ['job.assigned->job.running', 1],
        [id('running', 'PROGRESS'), 1],
        [id('running', 'COMPLETE'), 1],
        ['job.running->job.completed', 1],
        [id('pending', 'ASSIGN'), 2],
        ['job.pending->job.assigned', 2],
      ]),
    );
    expect(tally.recent(noon + 200_000)).toEqual(new Map());
    // A first record is no transition; the counts are the records'.
    expect(new Map(tally.allCounts())).toEqual(new Map([['job', 3], ['job.completed', 1], ['job.assigned', 2]]));
  });

  it('counts a change once on an arrow, however many of the arrow’s transitions could explain it', () => {
    const graph = chartGraph(connector);
    const tally = new FleetTally(connector, graph, 'connector', []);
    const at = { version: connector.version, updatedAt: '2026-11-30T12:00:01.000Z' };
    const active = recordOf('connector', 'c', 1, 'active', at);
    tally.apply([{ record: active, previous: undefined, offset: '1' }], false);
    tally.apply([{ record: recordOf('connector', 'c', 2, { idle: 'ready' }, at), previous: active, offset: '2' }], false);
    const recent = tally.recent(Date.parse('2026-11-30T12:00:05.000Z'));
    // JOB_DONE, JOB_FAILED or CANCEL [isCurrentJob]: the values alone cannot tell; one change went along the arrow.
    expect(graph.edges.find((edge) => edge.id === 'connector.active->connector.idle')?.lines).toHaveLength(3);
    expect(recent.get('connector.active->connector.idle')).toBe(1);
    expect([...recent.keys()].filter((key) => key.startsWith('connector.active#'))).toHaveLength(3);
  });

  it('does not place records of another definition version, and says how many there are', () => {
    const tally = new FleetTally(job, chartGraph(job), 'job', [
      recordOf('job', 'a', 1, 'pending', { version: job.version }),
      recordOf('job', 'b', 1, 'pending', { version: 'feedfacefeedface' }),
      recordOf('job', 'c', 1, 'pending'),
      recordOf('job', 'd', 1, 'paused', { version: job.version }),
      recordOf('worker', 'w', 1, 'ready'),
    ]);
    expect(tally.count('job.pending')).toBe(1);
    expect(tally.offChart()).toEqual([
      { version: 'feedfacefeedface', count: 1 },
      { version: undefined, count: 1 },
      { version: job.version, count: 1 },
    ]);
  });
});
