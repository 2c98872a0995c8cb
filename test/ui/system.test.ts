/**
 * What the System page computes from probe records and the clock (ui/src/system.ts): the state
 * it shows, when the last check was, when a record stops being believed, and the one word for
 * the whole system.
 */
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { PROBE_DEFAULTS, staleAfterMs, type ProbeContext } from 'statehub/machines';
import type { ActorRecord } from 'statehub';

// The page's formatting module reads the browser's saved choices when it loads.
vi.stubGlobal('localStorage', { getItem: () => null, setItem: () => {}, removeItem: () => {} });
let system: typeof import('../../ui/src/system.js');
beforeAll(async () => {
  system = await import('../../ui/src/system.js');
});

const T = Date.parse('2026-12-01T10:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();

function probe(id: string, state: string, context: Partial<ProbeContext> = {}, stateSince = T): ActorRecord {
  return {
    id,
    kind: 'probe',
    seq: 2,
    state,
    stateSince: iso(stateSince),
    updatedAt: iso(T),
    snapshot: {
      status: 'active',
      value: state,
      children: {},
      context: {
        id,
        target: id.slice('probe:'.length),
        ...PROBE_DEFAULTS,
        checkedAt: iso(T),
        latencyMs: 1.5,
        latencyBucket: 0,
        message: 'PONG',
        failures: 0,
        freshUntil: iso(T + staleAfterMs(PROBE_DEFAULTS)),
        samples: [[T, 1.5]],
        ...context,
      },
    },
  };
}

const presence = (workers: Record<string, number> = { ready: 2 }) => ({ workers, machines: { ready: 1 } });

describe('a probe on the page', () => {
  it('is in its recorded state while the record holds, its last check the last one due on its schedule', () => {
    const view = system.probeView(probe('probe:redis', 'healthy'), T + 3_500);
    expect(view).toMatchObject({ state: 'healthy', stale: false, lastCheckAt: T + 3_000 });
    expect(system.probeView(probe('probe:redis', 'healthy'), T + staleAfterMs(PROBE_DEFAULTS)).stale).toBe(false);
  });

  it('is unknown once the record no longer holds, its last check the recorded one', () => {
    const view = system.probeView(probe('probe:redis', 'healthy'), T + staleAfterMs(PROBE_DEFAULTS) + 1);
    expect(view).toMatchObject({ state: 'unknown', stale: true, lastCheckAt: T });
    // A record in a known state that does not say until when is not believed either.
    expect(system.probeView(probe('probe:redis', 'healthy', { freshUntil: null }), T).state).toBe('unknown');
  });

  it('never checked: unknown, not stale, no last check', () => {
    const view = system.probeView(probe('probe:new', 'unknown', { checkedAt: null, freshUntil: null, samples: [] }), T + 60_000);
    expect(view).toMatchObject({ state: 'unknown', stale: false, lastCheckAt: undefined });
  });
});

describe('the health of the whole system', () => {
  const at = T + 5_000;
  const views = (...records: ActorRecord[]) => records.map((record) => system.probeView(record, at));

  it('is healthy when every probe is and no worker is stale', () => {
    expect(system.systemHealth(views(probe('probe:store', 'healthy'), probe('probe:db', 'healthy')), presence({ ready: 1, offline: 3 }), at)).toEqual({ health: 'healthy', reasons: [] });
  });

  it('is degraded by a slow probe or a stale worker, unknown by a probe nobody checks, unhealthy by a failing one, and says why, worst first', () => {
    const slow = probe('probe:s3', 'degraded', { latencyMs: 812, degradedMs: 500 });
    expect(system.systemHealth(views(slow), presence(), at)).toEqual({ health: 'degraded', reasons: ['probe:s3 degraded: answered in 812 ms, over 500 ms'] });
    expect(system.systemHealth(views(probe('probe:store', 'healthy')), presence({ ready: 1, stale: 2 }), at)).toEqual({ health: 'degraded', reasons: ['2 workers stale: heartbeats missed'] });

    const gone = system.probeView(probe('probe:store', 'healthy'), T + 60_000);
    expect(system.systemHealth([gone, system.probeView(slow, T + 1_000)], presence(), T + 60_000)).toEqual({
      health: 'unknown',
      reasons: ['probe:store: last check recorded 1 min ago; its checks stopped', 'probe:s3 degraded: answered in 812 ms, over 500 ms'],
    });
    expect(system.systemHealth([], presence(), at)).toEqual({ health: 'unknown', reasons: ['no probe reports: this hub runs no probes'] });

    const down = probe('probe:db', 'unhealthy', { message: 'connect ECONNREFUSED 127.0.0.1:5432', failures: 3 }, T - 30_000);
    expect(system.systemHealth([...views(down), gone], presence({ stale: 1 }), at)).toEqual({
      health: 'unhealthy',
      reasons: ['probe:db became unhealthy 35 s ago: connect ECONNREFUSED 127.0.0.1:5432', 'probe:store: last check recorded 5 s ago; its checks stopped', '1 worker stale: heartbeats missed'],
    });
  });
});
