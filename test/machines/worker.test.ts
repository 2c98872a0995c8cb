/**
 * The worker machine (machines/worker.ts), driven like the hub drives it: pure `transition()`
 * steps from registration, heartbeats, lease counts, draining and leaving, with the
 * staleAfter / offlineAfter delays as timers and `workerLost` as the effect to perform.
 */
import { describe, expect, it } from 'vitest';
import { WORKER_TIMING_DEFAULTS, workerMachine, type WorkerEvent, type WorkerInput, type WorkerMachine } from 'statehub/machines';
import { Coverage, PureRun, edgesOf, expectEveryState, expectEveryTransition, exploreGraph, stateIdsOf, type Effect } from './support.js';

const workerInput = (extra: Partial<WorkerInput> = {}): WorkerInput => ({
  id: 'w1',
  sessionId: 's1',
  machineId: 'm1',
  capabilities: { gpu: 1 },
  connectorIds: ['c1', 'c2'],
  ...extra,
});

const HEARTBEAT = { type: 'HEARTBEAT' } as const;
const DRAIN = { type: 'DRAIN' } as const;
const leases = (count: number) => ({ type: 'LEASES', count }) as const;
const leave = (sessionId: string) => ({ type: 'LEAVE', sessionId }) as const;
const register = (sessionId: string, connectorIds = ['c1', 'c2'], capabilities = { gpu: 1 }): WorkerEvent => ({
  type: 'REGISTER',
  sessionId,
  machineId: 'm1',
  capabilities,
  connectorIds,
});

const workerLost = (connectorIds = ['c1', 'c2']): Effect => ({ type: 'workerLost', params: { workerId: 'w1', connectorIds } });

// ---------------------------------------------------------------------------------------------

describe('worker machine: paths derived with xstate/graph', () => {
  const graph = exploreGraph(workerMachine, {
    input: workerInput(),
    events: [
      register('s1'),
      register('s2', ['c3']),
      HEARTBEAT,
      leases(0),
      leases(1),
      DRAIN,
      leave('s1'),
      leave('s2'),
      { type: 'xstate.after.staleAfter.worker.ready' },
      { type: 'xstate.after.staleAfter.worker.busy' },
      { type: 'xstate.after.staleAfter.worker.draining' },
      { type: 'xstate.after.offlineAfter.worker.stale' },
    ],
    serializeState: (snapshot) => JSON.stringify([snapshot.value, snapshot.context.sessionId]),
  });

  it('knows the 5 states and 23 transitions of machines/worker.ts', () => {
    expect(stateIdsOf(workerMachine)).toEqual(['worker.ready', 'worker.busy', 'worker.draining', 'worker.stale', 'worker.offline']);
    expect(edgesOf(workerMachine)).toHaveLength(23);
  });

  it('reaches every state node on some generated path', () => {
    expectEveryState(graph, 'worker machine, generated paths');
    expect(graph.states.reached).toHaveLength(5);
  });

  it('takes every transition on some generated path, both branches of each guarded REGISTER and LEAVE included', () => {
    expectEveryTransition(graph, 'worker machine, generated paths');
    expect(graph.edges.covered).toHaveLength(23);
  });

  it('finds these shortest paths from a worker registered with session s1', () => {
    const table = Object.fromEntries(graph.shortestPaths.map((path) => [path.description, graph.sequences.get(path)!.join(' > ')]));
    expect(Object.keys(table)).toHaveLength(graph.shortestPaths.length);
    expect(table).toEqual({
      '(initial)': 'ready',
      DRAIN: 'ready > draining',
      'LEASES(count=1)': 'ready > busy',
      'LEAVE(sessionId=s1)': 'ready > offline',
      'xstate.after.staleAfter.worker.ready': 'ready > stale',
      // A new session: the same states, now held by s2.
      'REGISTER(sessionId=s2)': 'ready',
      'REGISTER(sessionId=s2) > DRAIN': 'ready > draining',
      'REGISTER(sessionId=s2) > LEASES(count=1)': 'ready > busy',
      'REGISTER(sessionId=s2) > LEAVE(sessionId=s2)': 'ready > offline',
      'REGISTER(sessionId=s2) > xstate.after.staleAfter.worker.ready': 'ready > stale',
    });
  });
});

// ---------------------------------------------------------------------------------------------

type Start = (extra?: Partial<WorkerInput>) => PureRun<WorkerMachine>;

interface Scenario {
  name: string;
  run: (start: Start) => void;
}

const scenarios: Scenario[] = [
  {
    name: 'a new worker starts ready with its stale timer set, from the default or given timings',
    run: (start) => {
      const worker = start();
      worker.expect('ready');
      expect(worker.context).toMatchObject({ id: 'w1', sessionId: 's1', machineId: 'm1', connectorIds: ['c1', 'c2'], ...WORKER_TIMING_DEFAULTS });
      expect(worker.actions).toEqual([
        {
          type: 'xstate.raise',
          params: { event: { type: 'xstate.after.staleAfter.worker.ready' }, id: 'xstate.after.staleAfter.worker.ready', delay: WORKER_TIMING_DEFAULTS.staleAfterMs },
        },
      ]);
      const fast = start({ timings: { heartbeatMs: 50, staleAfterMs: 300 } });
      expect(fast.pending()).toEqual({ staleAfter: 300 });
      expect(fast.context).toMatchObject({ heartbeatMs: 50, staleAfterMs: 300, offlineAfterMs: WORKER_TIMING_DEFAULTS.offlineAfterMs });
    },
  },
  {
    name: 'ready > busy > ready: only the change between no jobs and some jobs counts',
    run: (start) => {
      const worker = start();
      worker.send(leases(0));
      expect(worker.state).toBe('ready');
      worker.send(leases(1));
      expect(worker.state).toBe('busy');
      expect(worker.effects()).toEqual([]);
      worker.send(leases(3), leases(2));
      expect(worker.state).toBe('busy');
      worker.send(leases(0));
      worker.expect('ready > busy > ready');
      expect(worker.held).toEqual(['ready', 'ready', 'busy', 'busy', 'busy', 'ready']);
      expect(worker.pending()).toEqual({ staleAfter: 3_000 });
    },
  },
  {
    name: 'each HEARTBEAT restarts the stale timer, in ready, busy and draining alike',
    run: (start) => {
      const worker = start();
      for (const state of ['ready', 'busy', 'draining']) {
        if (state === 'busy') worker.send(leases(1));
        if (state === 'draining') worker.send(DRAIN);
        worker.send(HEARTBEAT);
        expect(worker.state).toBe(state);
        expect(worker.actions).toEqual([
          { type: 'xstate.cancel', params: { sendId: `xstate.after.staleAfter.worker.${state}` } },
          {
            type: 'xstate.raise',
            params: { event: { type: `xstate.after.staleAfter.worker.${state}` }, id: `xstate.after.staleAfter.worker.${state}`, delay: 3_000 },
          },
        ]);
      }
      worker.expect('ready > busy > draining');
    },
  },
  {
    name: 'ready > stale > offline > ready: missed heartbeats give the worker up, a new registration brings it back',
    run: (start) => {
      const worker = start();
      worker.fire('staleAfter');
      expect(worker.state).toBe('stale');
      expect(worker.effects()).toEqual([workerLost()]);
      expect(worker.pending()).toEqual({ offlineAfter: 10_000 });

      worker.fire('offlineAfter');
      expect(worker.state).toBe('offline');
      // Performed again on the way in; the leases are already gone, so it finds nothing.
      expect(worker.effects()).toEqual([workerLost()]);
      expect(worker.pending()).toEqual({});

      worker.send(register('s2', ['c3']));
      worker.expect('ready > stale > offline > ready');
      expect(worker.effects()).toEqual([]);
      expect(worker.context).toMatchObject({ sessionId: 's2', connectorIds: ['c3'] });
      expect(worker.pending()).toEqual({ staleAfter: 3_000 });
    },
  },
  {
    name: 'busy > stale and draining > stale: a worker with jobs or draining goes stale the same way',
    run: (start) => {
      const busy = start().send(leases(2)).fire('staleAfter');
      busy.expect('ready > busy > stale');
      expect(busy.effects()).toEqual([workerLost()]);

      const draining = start().send(DRAIN).fire('staleAfter');
      draining.expect('ready > draining > stale');
      expect(draining.effects()).toEqual([workerLost()]);
    },
  },
  {
    name: 'stale > ready: registering again while stale needs no second workerLost',
    run: (start) => {
      const worker = start().fire('staleAfter').send(register('s1'));
      worker.expect('ready > stale > ready');
      expect(worker.effects()).toEqual([]);
      expect(worker.pending()).toEqual({ staleAfter: 3_000 });
    },
  },
  {
    name: 'draining: from ready and from busy, it takes no lease changes and ignores another DRAIN',
    run: (start) => {
      const fromReady = start().send(DRAIN, leases(1), DRAIN);
      fromReady.expect('ready > draining');

      const fromBusy = start().send(leases(1), DRAIN, leases(0));
      fromBusy.expect('ready > busy > draining');
      expect(fromBusy.effects()).toEqual([]);
    },
  },
  {
    name: 'LEAVE of the current session: ready, busy, draining and stale go offline, losing the worker',
    run: (start) => {
      const ready = start().send(leave('s1'));
      ready.expect('ready > offline');
      expect(ready.effects()).toEqual([workerLost()]);
      expect(ready.pending()).toEqual({});

      const busy = start().send(leases(1), leave('s1'));
      busy.expect('ready > busy > offline');
      expect(busy.effects()).toEqual([workerLost()]);

      const draining = start().send(DRAIN, leave('s1'));
      draining.expect('ready > draining > offline');

      const stale = start().fire('staleAfter').send(leave('s1'));
      stale.expect('ready > stale > offline');
      expect(stale.pending()).toEqual({});
    },
  },
  {
    name: 'LEAVE of an older session changes nothing',
    run: (start) => {
      const worker = start({ sessionId: 's2' });
      worker.send(leave('s1'));
      worker.send(leases(1), leave('s1'), DRAIN, leave('s1'));
      worker.fire('staleAfter').send(leave('s1'));
      worker.expect('ready > busy > draining > stale');
      worker.send(leave('s2'));
      worker.expect('ready > busy > draining > stale > offline');
    },
  },
  {
    name: 'REGISTER on the same session (a resumed connection) keeps its state and leases, updates the registration and restarts the stale timer',
    run: (start) => {
      const restarted = (state: string) => [
        { type: 'xstate.cancel', params: { sendId: `xstate.after.staleAfter.worker.${state}` } },
        { type: 'xstate.raise', params: { event: { type: `xstate.after.staleAfter.worker.${state}` }, id: `xstate.after.staleAfter.worker.${state}`, delay: 3_000 } },
      ];
      const worker = start();
      worker.send(register('s1', ['c1', 'c2'], { gpu: 2 }));
      expect(worker.state).toBe('ready');
      expect(worker.actions).toEqual(restarted('ready'));
      expect(worker.context.capabilities).toEqual({ gpu: 2 });

      worker.send(leases(1), register('s1'));
      expect(worker.state).toBe('busy');
      expect(worker.actions).toEqual(restarted('busy'));

      worker.send(DRAIN, register('s1'));
      expect(worker.state).toBe('draining');
      expect(worker.actions).toEqual(restarted('draining'));
      worker.expect('ready > busy > draining');
      expect(worker.effects()).toEqual([]);
    },
  },
  {
    name: 'REGISTER with a new session gives up what the old one held first, then starts over ready',
    run: (start) => {
      const busy = start().send(leases(1), register('s2', ['c9']));
      busy.expect('ready > busy > ready');
      // The old session's connectors, not the new ones.
      expect(busy.effects()).toEqual([workerLost(['c1', 'c2'])]);
      expect(busy.context).toMatchObject({ sessionId: 's2', connectorIds: ['c9'] });
      expect(busy.pending()).toEqual({ staleAfter: 3_000 });

      const ready = start().send(register('s2'));
      expect(ready.held).toEqual(['ready', 'ready']);
      expect(ready.effects()).toEqual([workerLost()]);
      expect(ready.actions[0]).toEqual({ type: 'xstate.cancel', params: { sendId: 'xstate.after.staleAfter.worker.ready' } });

      const draining = start().send(DRAIN, register('s2'));
      draining.expect('ready > draining > ready');
      expect(draining.effects()).toEqual([workerLost()]);
    },
  },
  {
    name: 'offline takes nothing but a registration',
    run: (start) => {
      const worker = start().send(leave('s1'));
      worker.send(HEARTBEAT, leases(1), DRAIN, leave('s1'));
      worker.expect('ready > offline');
      expect(worker.actions).toEqual([]);
      worker.send(register('s1'));
      worker.expect('ready > offline > ready');
    },
  },
];

describe('worker machine: sequences driven with transition()', () => {
  const start: Start = (extra) => new PureRun(workerMachine, workerInput(extra));
  for (const scenario of scenarios) it(scenario.name, () => scenario.run(start));

  it('these sequences together reach every state and take every transition', () => {
    const coverage = new Coverage(workerMachine);
    for (const scenario of scenarios) scenario.run((extra) => new PureRun(workerMachine, workerInput(extra), coverage));
    const report = coverage.report();
    expectEveryState(report, 'worker machine, explicit sequences');
    expectEveryTransition(report, 'worker machine, explicit sequences');
  });
});
