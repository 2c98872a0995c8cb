/**
 * The webhook machine (machines/webhook.ts), driven like the hub drives it: pure `transition()`
 * steps from looks (POLL, NUDGE), rounds (START and their reports), the lease running out,
 * pausing and resuming, with the look and lease timers as pending timers and `look` / `deliver`
 * as the effects the hub performs.
 */
import { describe, expect, it } from 'vitest';
import { MAX_WEBHOOK_BACKOFF_MS, WEBHOOK_DEFAULTS, webhookMachine, webhookRetryDelay, type WebhookEvent, type WebhookInput, type WebhookMachine } from 'statehub/machines';
import { STATES } from '../../src/protocol/states.js';
import { Coverage, PureRun, edgesOf, expectEveryState, expectEveryTransition, exploreGraph, stateIdsOf } from './support.js';

const input = (extra: Partial<WebhookInput> = {}): WebhookInput => ({
  ...WEBHOOK_DEFAULTS,
  url: 'https://example.com/hook',
  filter: { kinds: ['job'] },
  cursor: 'o-10',
  createdAt: '2026-01-01T00:00:00.000Z',
  ...extra,
});

const AT = Date.parse('2026-01-01T00:01:00.000Z');
const POLL = { type: 'POLL' } as const;
const NUDGE = { type: 'NUDGE' } as const;
const start = (hub = 'hub-a', at = AT): WebhookEvent => ({ type: 'START', hub, at });
const LEASE_EXPIRED = { type: 'xstate.after.lease.webhook.delivering' } as const;

function delivered(round: number, cursor: string, count: number, first: string | null = null, last: string | null = null): WebhookEvent {
  return { type: 'DELIVERED', round, at: AT + 500, cursor, delivered: count, first, last, ok: true, status: 204, ms: 3.2, error: null, offset: null };
}

function failed(round: number, cursor: string, offset: string, count = 0): WebhookEvent {
  return { type: 'FAILED', round, at: AT + 500, cursor, delivered: count, first: null, last: null, ok: false, status: 500, ms: 1.5, error: 'HTTP 500 Internal Server Error', offset };
}

const pause = (round: number, reason = 'changes were trimmed'): WebhookEvent => ({ type: 'PAUSE', round, at: AT, reason });

describe('webhook machine: paths derived with xstate/graph', () => {
  const graph = exploreGraph(webhookMachine, {
    input: input({ maxFailures: 2 }),
    events: [POLL, NUDGE, start(), delivered(1, 'o-12', 2), failed(1, 'o-10', 'o-11'), failed(2, 'o-10', 'o-11'), pause(1), { type: 'RESUME' }, LEASE_EXPIRED],
    // Rounds count up forever: past 3, the sample reports (rounds 1 and 2) are all about other rounds.
    serializeState: (snapshot) => JSON.stringify([snapshot.value, Math.min(snapshot.context.round, 3), snapshot.context.consecutiveFailures]),
  });

  it('knows the 4 states and 11 transitions of machines/webhook.ts', () => {
    expect(stateIdsOf(webhookMachine)).toEqual(['webhook.active', 'webhook.delivering', 'webhook.retrying', 'webhook.paused']);
    // The states /metrics lists and hooks type a webhook's record with.
    expect(STATES.webhook.map((state) => `webhook.${state}`)).toEqual(stateIdsOf(webhookMachine));
    expect(edgesOf(webhookMachine).map((edge) => edge.name)).toEqual([
      'webhook.active --POLL--> webhook.active',
      'webhook.active --NUDGE--> webhook.active',
      'webhook.active --START--> webhook.delivering',
      'webhook.delivering --DELIVERED [thisRound]--> webhook.active',
      'webhook.delivering --FAILED [and(thisRound, failedTooOften)]--> webhook.paused',
      'webhook.delivering --FAILED [thisRound]--> webhook.retrying',
      'webhook.delivering --PAUSE [thisRound]--> webhook.paused',
      'webhook.delivering --xstate.after.lease.webhook.delivering--> webhook.active',
      'webhook.retrying --POLL--> webhook.retrying',
      'webhook.retrying --START--> webhook.delivering',
      'webhook.paused --RESUME--> webhook.active',
    ]);
  });

  it('reaches every state node and takes every transition on some generated path', () => {
    expectEveryState(graph, 'webhook machine, generated paths');
    expectEveryTransition(graph, 'webhook machine, generated paths');
  });
});

// ---------------------------------------------------------------------------------------------

type Start = (extra?: Partial<WebhookInput>) => PureRun<WebhookMachine>;

interface Scenario {
  name: string;
  run: (start: Start) => void;
}

const scenarios: Scenario[] = [
  {
    name: 'a new webhook is active and looks at once; POLL looks and looks again after pollMs; NUDGE looks now; none changes the record',
    run: (begin) => {
      const hook = begin();
      hook.expect('active');
      expect(hook.context).toMatchObject({ cursor: 'o-10', round: 0, hub: null, delivered: 0, failures: 0, reason: null, last: null, description: null });
      expect(hook.timers.get('poll')?.delay).toBe(0);
      const before = hook.snapshot;
      hook.send(POLL);
      expect(hook.effects()).toEqual([{ type: 'look', params: undefined }]);
      expect(hook.timers.get('poll')?.delay).toBe(WEBHOOK_DEFAULTS.pollMs);
      hook.send(NUDGE);
      expect(hook.effects()).toEqual([]);
      expect(hook.timers.get('poll')?.delay).toBe(0);
      expect(hook.snapshot.context).toEqual(before.context);
      expect(hook.held).toEqual(['active', 'active', 'active']);
    },
  },
  {
    name: 'START takes a lease for the next round and delivers; DELIVERED moves the cursor and looks again at once',
    run: (begin) => {
      const hook = begin({ leaseMs: 30_000 });
      hook.send(start('hub-a'));
      expect(hook.state).toBe('delivering');
      expect(hook.effects()).toEqual([{ type: 'deliver', params: undefined }]);
      expect(hook.context).toMatchObject({ round: 1, hub: 'hub-a', leaseUntil: '2026-01-01T00:01:30.000Z' });
      // No look while delivering: the lease is the only timer.
      expect(hook.pending()).toEqual({ lease: 30_000 });
      expect(hook.timers.has('poll')).toBe(false);
      hook.send(delivered(1, 'o-15', 3, 'o-11', 'o-14'));
      hook.expect('active > delivering > active');
      expect(hook.context).toMatchObject({ cursor: 'o-15', delivered: 3, consecutiveFailures: 0, hub: null, leaseUntil: null });
      expect(hook.context.last).toEqual({ at: '2026-01-01T00:01:00.500Z', delivered: 3, first: 'o-11', last: 'o-14', ok: true, status: 204, ms: 3.2, error: null, offset: null });
      expect(hook.timers.get('poll')?.delay).toBe(0);
      hook.send(start('hub-b'), delivered(2, 'o-20', 1));
      expect(hook.context).toMatchObject({ round: 2, cursor: 'o-20', delivered: 4 });
    },
  },
  {
    name: 'a report about another round is ignored: its lease ran out and the changes are delivered again',
    run: (begin) => {
      const hook = begin();
      hook.send(start('hub-a'), LEASE_EXPIRED);
      hook.expect('active > delivering > active');
      expect(hook.context.last).toMatchObject({ ok: false, error: 'hub hub-a did not finish round 1 within its lease: delivering again from the cursor' });
      expect(hook.context).toMatchObject({ cursor: 'o-10', hub: null, failures: 0 });
      hook.send(start('hub-b'));
      hook.send(delivered(1, 'o-99', 5), failed(1, 'o-10', 'o-11'), pause(1));
      expect(hook.state).toBe('delivering');
      expect(hook.context).toMatchObject({ round: 2, cursor: 'o-10', delivered: 0, hub: 'hub-b' });
      hook.send(delivered(2, 'o-12', 1));
      expect(hook.context).toMatchObject({ cursor: 'o-12', delivered: 1 });
    },
  },
  {
    name: 'a failed round retries after a backoff that doubles; the look finds the change again and START delivers it',
    run: (begin) => {
      const hook = begin({ backoffMs: 100 });
      hook.send(start(), failed(1, 'o-10', 'o-11'));
      expect(hook.state).toBe('retrying');
      expect(hook.context).toMatchObject({ cursor: 'o-10', failures: 1, consecutiveFailures: 1, last: { ok: false, status: 500, offset: 'o-11' } });
      expect(hook.timers.get('poll')?.delay).toBe(100);
      // A nudge does not cut the backoff short.
      hook.send(NUDGE);
      expect(hook.timers.get('poll')?.delay).toBe(100);
      hook.send(POLL);
      expect(hook.effects()).toEqual([{ type: 'look', params: undefined }]);
      hook.send(start(), failed(2, 'o-10', 'o-11'));
      expect(hook.timers.get('poll')?.delay).toBe(200);
      hook.send(start(), delivered(3, 'o-13', 2));
      hook.expect('active > delivering > retrying > delivering > retrying > delivering > active');
      expect(hook.context).toMatchObject({ failures: 2, consecutiveFailures: 0, delivered: 2 });
    },
  },
  {
    name: 'maxFailures failed rounds in a row pause it with the reason; a round that delivered some starts the count again',
    run: (begin) => {
      const hook = begin({ maxFailures: 3, backoffMs: 10 });
      hook.send(start(), failed(1, 'o-10', 'o-11'), start(), failed(2, 'o-10', 'o-11'));
      // Delivered two, then failed: a streak of one.
      hook.send(start(), failed(3, 'o-13', 'o-14', 2));
      expect(hook.context).toMatchObject({ consecutiveFailures: 1, delivered: 2, cursor: 'o-13' });
      hook.send(start(), failed(4, 'o-13', 'o-14'), start(), failed(5, 'o-13', 'o-14'));
      hook.expect('active > delivering > retrying > delivering > retrying > delivering > retrying > delivering > retrying > delivering > paused');
      expect(hook.context).toMatchObject({
        consecutiveFailures: 3,
        failures: 5,
        reason: '3 rounds in a row failed (the last: HTTP 500 Internal Server Error); resume it once the endpoint is fixed',
      });
      expect(hook.pending()).toEqual({});
    },
  },
  {
    name: 'PAUSE stops it with the round\'s reason; paused, it takes nothing but RESUME, which looks at once from its cursor or where it is told',
    run: (begin) => {
      const hook = begin();
      hook.send(start(), pause(1, 'changes were trimmed from the log'));
      expect(hook.state).toBe('paused');
      expect(hook.context).toMatchObject({ reason: 'changes were trimmed from the log', hub: null, leaseUntil: null });
      hook.send(POLL, NUDGE, start(), delivered(1, 'o-50', 1));
      expect(hook.actions).toEqual([]);
      hook.send({ type: 'RESUME' });
      hook.expect('active > delivering > paused > active');
      expect(hook.context).toMatchObject({ reason: null, consecutiveFailures: 0, cursor: 'o-10' });
      expect(hook.timers.get('poll')?.delay).toBe(0);
      hook.send(start(), pause(2), { type: 'RESUME', cursor: 'o-77' });
      expect(hook.context.cursor).toBe('o-77');
    },
  },
];

describe('webhook machine: sequences driven with transition()', () => {
  const begin: Start = (extra) => new PureRun(webhookMachine, input(extra));
  for (const scenario of scenarios) it(scenario.name, () => scenario.run(begin));

  it('these sequences together reach every state and take every transition', () => {
    const coverage = new Coverage(webhookMachine);
    for (const scenario of scenarios) scenario.run((extra) => new PureRun(webhookMachine, input(extra), coverage));
    const report = coverage.report();
    expectEveryState(report, 'webhook machine, explicit sequences');
    expectEveryTransition(report, 'webhook machine, explicit sequences');
  });

  it('backs off backoffMs, then twice as long each time, up to 5 minutes', () => {
    expect([1, 2, 3, 4].map((consecutiveFailures) => webhookRetryDelay({ backoffMs: 1_000, consecutiveFailures }))).toEqual([1_000, 2_000, 4_000, 8_000]);
    expect(webhookRetryDelay({ backoffMs: 1_000, consecutiveFailures: 30 })).toBe(MAX_WEBHOOK_BACKOFF_MS);
  });
});
