/**
 * The probe machine (machines/probe.ts), driven like the hub drives it: pure `transition()`
 * steps from the CHECK timer, CHECKED outcomes and CONFIGURE, with the staleAfter delay as a
 * timer and `check` as the effect to perform. A step that returns the same snapshot writes no
 * record, which is what keeps a healthy probe out of the log.
 */
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  LATENCY_EDGES_MS,
  MAX_PROBE_MESSAGE,
  MAX_SAMPLES,
  PROBE_DEFAULTS,
  latencyBucket,
  leavesBucket,
  probeMachine,
  staleAfterMs,
  type ProbeEvent,
  type ProbeInput,
  type ProbeMachine,
} from 'statehub/machines';
import { Coverage, PureRun, edgesOf, expectEveryState, expectEveryTransition, stateIdsOf } from './support.js';

const input = (extra: Partial<ProbeInput> = {}): ProbeInput => ({ id: 'probe:db', target: 'postgres://db:5432', ...PROBE_DEFAULTS, ...extra });

/** Epoch ms of the n-th check of a run (one a second, from an arbitrary start). */
const T0 = Date.parse('2026-12-01T10:00:00.000Z');
const second = (n: number) => T0 + n * 1_000;

const ok = (at: number, latencyMs = 1, message = 'PONG'): ProbeEvent => ({ type: 'CHECKED', at, ok: true, latencyMs, message });
const failed = (at: number, message = 'connect ECONNREFUSED 127.0.0.1:5432'): ProbeEvent => ({ type: 'CHECKED', at, ok: false, latencyMs: 0.4, message });
const CHECK: ProbeEvent = { type: 'CHECK' };

/** Records a run of steps would write: one per step whose state or context changed, as the hub decides (src/hub/transaction.ts). */
function recordsOf(probe: PureRun<ProbeMachine>, events: ProbeEvent[]): number {
  const persisted = () => ({ value: probe.snapshot.value, context: probe.context, status: probe.status });
  let records = 0;
  for (const event of events) {
    const before = persisted();
    probe.send(event);
    if (!isDeepStrictEqual(persisted(), before)) records += 1;
  }
  return records;
}

const checkTimer = (probe: PureRun<ProbeMachine>) => probe.timers.get('check');

type Start = (extra?: Partial<ProbeInput>) => PureRun<ProbeMachine>;

interface Scenario {
  name: string;
  run: (start: Start) => void;
}

const scenarios: Scenario[] = [
  {
    name: 'a new probe is unknown and asks for a check at once; each CHECK runs the check and sets the next one an interval later',
    run: (start) => {
      const probe = start();
      probe.expect('unknown');
      expect(probe.context).toMatchObject({ checkedAt: null, latencyMs: null, message: 'not checked yet', failures: 0, freshUntil: null, samples: [] });
      expect(checkTimer(probe)).toEqual({ event: CHECK, delay: 0 });
      // The schedule and the effect, and no change to the snapshot: a tick writes no record.
      expect(recordsOf(probe, [CHECK])).toBe(0);
      expect(probe.effects()).toEqual([{ type: 'check', params: undefined }]);
      expect(checkTimer(probe)).toEqual({ event: CHECK, delay: PROBE_DEFAULTS.intervalMs });
    },
  },
  {
    name: 'unknown > healthy: a fast answer is recorded with its time, latency, message, and until when the record holds',
    run: (start) => {
      const probe = start().send(ok(second(0), 1.234));
      probe.expect('unknown > healthy');
      expect(probe.context).toMatchObject({
        checkedAt: new Date(second(0)).toISOString(),
        latencyMs: 1.2,
        latencyBucket: 0,
        message: 'PONG',
        failures: 0,
        freshUntil: new Date(second(0) + staleAfterMs(PROBE_DEFAULTS)).toISOString(),
        samples: [[second(0), 1.2]],
      });
      expect(probe.delay('staleAfter')).toBe(staleAfterMs(PROBE_DEFAULTS));
    },
  },
  {
    name: 'a steady healthy probe writes one record per reportEveryMs, not one per check',
    run: (start) => {
      const probe = start().send(ok(second(0)));
      // 100 checks, latency jittering inside its bucket: only the renewals change the record.
      const checks = Array.from({ length: 100 }, (_, index) => ok(second(index + 1), 1 + (index % 7)));
      expect(recordsOf(probe, checks)).toBe(100 / (PROBE_DEFAULTS.reportEveryMs / 1_000));
      probe.expect('unknown > healthy');
      expect(probe.context.checkedAt).toBe(new Date(second(100)).toISOString());
      // A renewal re-enters healthy: its stale timer starts over.
      expect(probe.actions.map((action) => action.type)).toEqual(['xstate.cancel', 'xstate.raise']);
    },
  },
  {
    name: 'a latency moves to another bucket only once it is clearly past the edge, both ways',
    run: (start) => {
      const probe = start().send(ok(second(0), 9));
      expect(recordsOf(probe, [ok(second(1), 11), ok(second(2), 12)])).toBe(0);
      expect(recordsOf(probe, [ok(second(3), 13)])).toBe(1);
      expect(probe.context.latencyBucket).toBe(1);
      // 9 ms is in the first bucket, but not far enough below its edge to go back.
      expect(recordsOf(probe, [ok(second(4), 9), ok(second(5), 8.5)])).toBe(0);
      expect(recordsOf(probe, [ok(second(6), 7)])).toBe(1);
      expect(probe.context).toMatchObject({ latencyBucket: 0, latencyMs: 7 });
      expect(probe.context.samples.map(([, latency]) => latency)).toEqual([9, 13, 7]);
      probe.expect('unknown > healthy');
    },
  },
  {
    name: 'healthy > degraded > healthy: slower than degradedMs is degraded',
    run: (start) => {
      const probe = start({ degradedMs: 100 }).send(ok(second(0), 5), ok(second(1), 100), ok(second(2), 150));
      probe.expect('unknown > healthy > degraded');
      expect(probe.context.latencyMs).toBe(150);
      expect(recordsOf(probe, [ok(second(3), 160)])).toBe(0);
      probe.send(ok(second(4), 20));
      probe.expect('unknown > healthy > degraded > healthy');
    },
  },
  {
    name: 'healthy > unhealthy > healthy: a failed check is unhealthy, counted in a row across renewals',
    run: (start) => {
      const probe = start().send(ok(second(0)), failed(second(1)));
      probe.expect('unknown > healthy > unhealthy');
      // It did not answer: no latency (how long refusing took says nothing of the dependency's speed).
      expect(probe.context).toMatchObject({ failures: 1, latencyMs: null, latencyBucket: null, message: 'connect ECONNREFUSED 127.0.0.1:5432' });
      // 24 more failures, a second apart: recorded at each renewal with the count up to it.
      const more = Array.from({ length: 24 }, (_, index) => failed(second(index + 2)));
      expect(recordsOf(probe, more)).toBe(2);
      expect(probe.context).toMatchObject({ failures: 21, checkedAt: new Date(second(21)).toISOString() });
      expect(probe.context.samples.at(-1)).toEqual([second(21), null]);
      probe.send(ok(second(26)));
      probe.expect('unknown > healthy > unhealthy > healthy');
      expect(probe.context.failures).toBe(0);
    },
  },
  {
    name: 'every verdict is reached from every state, a change of latency bucket within a state included',
    run: (start) => {
      const verdicts = { healthy: ok(0, 5), degraded: ok(0, 150), unhealthy: failed(0) } as const;
      const at = (event: ProbeEvent, n: number): ProbeEvent => ({ ...event, at: second(n) }) as ProbeEvent;
      for (const [from, reach] of Object.entries(verdicts)) {
        for (const [to, outcome] of Object.entries(verdicts)) {
          const probe = start({ degradedMs: 100 }).send(at(reach, 0), at(outcome, 1));
          probe.expect(from === to ? `unknown > ${from}` : `unknown > ${from} > ${to}`);
        }
      }
      const slower = start({ degradedMs: 100 }).send(ok(second(0), 150));
      expect(recordsOf(slower, [ok(second(1), 300)])).toBe(1);
      slower.expect('unknown > degraded');
    },
  },
  {
    name: 'an outcome older than the recorded one is ignored, in every state',
    run: (start) => {
      const cases = { healthy: ok(second(5)), degraded: ok(second(5), 900), unhealthy: failed(second(5)) };
      for (const [state, recorded] of Object.entries(cases)) {
        const probe = start().send(recorded);
        expect(recordsOf(probe, [failed(second(4)), ok(second(5), 3)])).toBe(0);
        probe.expect(`unknown > ${state}`);
      }
      const unknown = start().send(ok(second(5))).fire('staleAfter');
      expect(recordsOf(unknown, [ok(second(4))])).toBe(0);
      unknown.expect('unknown > healthy > unknown');
    },
  },
  {
    name: 'healthy > unknown: with no record for staleAfter the state is no longer known, and a check is asked for at once',
    run: (start) => {
      const probe = start().send(ok(second(0)), failed(second(1)));
      probe.fire('staleAfter');
      probe.expect('unknown > healthy > unhealthy > unknown');
      expect(probe.context).toMatchObject({ freshUntil: null, message: `checks stopped: none recorded since ${new Date(second(1)).toISOString()}` });
      expect(checkTimer(probe)).toEqual({ event: CHECK, delay: 0 });
      // The checks resume after a gap: a failure starts a new streak.
      probe.send(failed(second(60)));
      probe.expect('unknown > healthy > unhealthy > unknown > unhealthy');
      expect(probe.context.failures).toBe(1);

      const healthy = start().send(ok(second(0))).fire('staleAfter');
      healthy.expect('unknown > healthy > unknown');
      const degraded = start({ degradedMs: 0 }).send(ok(second(0), 3)).fire('staleAfter');
      degraded.expect('unknown > degraded > unknown');
    },
  },
  {
    name: 'CONFIGURE takes a hub\'s settings (a record only when they differ) and asks for a check now',
    run: (start) => {
      const probe = start().send(ok(second(0)));
      const settings = { target: 'postgres://db:5432', ...PROBE_DEFAULTS };
      expect(recordsOf(probe, [{ type: 'CONFIGURE', ...settings }])).toBe(0);
      expect(checkTimer(probe)).toEqual({ event: CHECK, delay: 0 });
      expect(recordsOf(probe, [{ type: 'CONFIGURE', ...settings, intervalMs: 5_000, timeoutMs: 2_000 }])).toBe(1);
      expect(probe.context).toMatchObject({ intervalMs: 5_000, timeoutMs: 2_000 });
      probe.send(CHECK);
      expect(checkTimer(probe)).toEqual({ event: CHECK, delay: 5_000 });
      probe.expect('unknown > healthy');
    },
  },
];

describe('probe machine: sequences driven with transition()', () => {
  const start: Start = (extra) => new PureRun(probeMachine, input(extra));
  for (const scenario of scenarios) it(scenario.name, () => scenario.run(start));

  it('knows the 4 states of the contract', () => {
    expect(stateIdsOf(probeMachine)).toEqual(['probe.unknown', 'probe.healthy', 'probe.degraded', 'probe.unhealthy']);
  });

  it('these sequences together reach every state and take every transition', () => {
    const coverage = new Coverage(probeMachine);
    for (const scenario of scenarios) scenario.run((extra) => new PureRun(probeMachine, input(extra), coverage));
    const report = coverage.report();
    expectEveryState(report, 'probe machine, explicit sequences');
    expectEveryTransition(report, 'probe machine, explicit sequences');
    expect(report.edges.all).toHaveLength(edgesOf(probeMachine).length);
  });
});

describe('probe records stay small', () => {
  it('keeps the last MAX_SAMPLES recorded checks and short messages: under 5 KB however long it runs', () => {
    const probe = new PureRun(probeMachine, input({ reportEveryMs: 1_000 }));
    const long = 'x'.repeat(5_000);
    for (let n = 0; n < 500; n++) probe.send(n % 2 ? ok(second(n), 1_234.56, long) : failed(second(n), long));
    expect(probe.context.samples).toHaveLength(MAX_SAMPLES);
    expect(probe.context.samples[0]).toEqual([second(500 - MAX_SAMPLES), null]);
    expect(probe.context.message).toHaveLength(MAX_PROBE_MESSAGE);
    expect(Buffer.byteLength(JSON.stringify(probe.snapshot))).toBeLessThan(5 * 1024);
  });
});

describe('latency buckets', () => {
  it('follow the 1-2-5 edges, the last one open', () => {
    expect([0, 9.9, 10, 19.9, 20, 49, 50, 999, 1_000, 4_999, 5_000, 60_000].map(latencyBucket)).toEqual([0, 0, 1, 1, 2, 2, 3, 6, 7, 8, 9, 9]);
    expect(LATENCY_EDGES_MS).toHaveLength(9);
  });

  it('are left 25 % past an edge', () => {
    expect(leavesBucket(null, 1)).toBe(true);
    expect([12.4, 12.5].map((ms) => leavesBucket(0, ms))).toEqual([false, true]);
    expect([8, 7.9, 24.9, 25].map((ms) => leavesBucket(1, ms))).toEqual([false, true, false, true]);
    expect([4_000, 3_999, 1e9].map((ms) => leavesBucket(9, ms))).toEqual([false, true, false]);
  });
});
