/**
 * The fleet chart's counts are a function of the records: kept change by change, they equal a
 * count of the records the view holds, whatever the changes were.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { View } from '../../src/client/view.js';
import type { ActorRecord } from '../../src/protocol/record.js';
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
        const tally = new FleetTally(connector, 'connector', view.records.values());
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

  it('does not place records of another definition version, and says how many there are', () => {
    const tally = new FleetTally(job, 'job', [
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
