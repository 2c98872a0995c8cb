/**
 * The host machine (`hostMachine`, machines/machine.ts): a host's state derived from how many
 * of its workers are online, driven with pure `transition()` like the hub does.
 */
import { describe, expect, it } from 'vitest';
import { getSimplePaths } from 'xstate/graph';
import { expectSequence } from 'statehub/testing';
import { hostMachine, type HostEvent, type HostMachine } from 'statehub/machines';
import { Coverage, PureRun, edgesOf, expectEveryState, expectEveryTransition, exploreGraph, stateIdsOf } from './support.js';

const workers = (online: number, total: number): HostEvent => ({ type: 'WORKERS', online, total });

describe('host machine: paths derived with xstate/graph', () => {
  const events = [workers(0, 0), workers(0, 2), workers(1, 2), workers(2, 2)];
  const graph = exploreGraph(hostMachine, {
    input: { id: 'm1' },
    events,
    serializeState: (snapshot) => JSON.stringify(snapshot.value),
  });

  it('knows the 3 states and 6 transitions of machines/machine.ts', () => {
    expect(stateIdsOf(hostMachine)).toEqual(['machine.starting', 'machine.ready', 'machine.offline']);
    expect(edgesOf(hostMachine).map((edge) => edge.name)).toEqual([
      'machine.starting --WORKERS [anyOnline]--> machine.ready',
      'machine.starting --WORKERS--> machine.starting',
      'machine.ready --WORKERS [anyOnline]--> machine.ready',
      'machine.ready --WORKERS--> machine.offline',
      'machine.offline --WORKERS [anyOnline]--> machine.ready',
      'machine.offline --WORKERS--> machine.offline',
    ]);
  });

  it('reaches every state node on some generated path', () => {
    expectEveryState(graph, 'host machine, generated paths');
    expect(graph.states.reached).toHaveLength(3);
  });

  it('takes every transition on some generated path, the unguarded "none online" branches included', () => {
    expectEveryTransition(graph, 'host machine, generated paths');
    expect(graph.edges.covered).toHaveLength(6);
  });

  it('has these simple paths: starting, starting > ready, starting > ready > offline', () => {
    const paths = getSimplePaths(hostMachine, { input: { id: 'm1' }, events, serializeState: (snapshot) => JSON.stringify(snapshot.value) });
    const sequences = paths.map((path) => path.steps.map((step) => step.state.value).join(' > '));
    expect([...new Set(sequences)].sort()).toEqual(['starting', 'starting > ready', 'starting > ready > offline']);
    // Two samples reach ready (1 or 2 online) and two then reach offline (0 of 0, 0 of 2): 1 + 2 + 2 x 2.
    expect(paths).toHaveLength(7);
    // Each simple path is a prefix of starting > ready > offline.
    for (const path of paths) expectSequence(['starting', 'ready', 'offline'], path.steps.map((step) => String(step.state.value)), { prefix: true });
  });
});

type Start = () => PureRun<HostMachine>;

interface Scenario {
  name: string;
  run: (start: Start) => void;
}

const scenarios: Scenario[] = [
  {
    name: 'starting > ready > offline > ready, counting online and total workers',
    run: (start) => {
      const host = start();
      expect(host.context).toEqual({ id: 'm1', onlineWorkers: 0, workers: 0 });
      host.send(workers(1, 1));
      expect(host.context).toEqual({ id: 'm1', onlineWorkers: 1, workers: 1 });
      host.send(workers(0, 1));
      expect(host.state).toBe('offline');
      expect(host.context).toMatchObject({ onlineWorkers: 0, workers: 1 });
      host.send(workers(2, 2));
      host.expect('starting > ready > offline > ready');
      expect(host.context).toMatchObject({ onlineWorkers: 2, workers: 2 });
      expect(host.actions).toEqual([]);
      expect(host.pending()).toEqual({});
    },
  },
  {
    name: 'starting stays starting while no worker is online, still counting',
    run: (start) => {
      const host = start().send(workers(0, 0), workers(0, 3));
      host.expect('starting');
      expect(host.context).toMatchObject({ onlineWorkers: 0, workers: 3 });
    },
  },
  {
    name: 'ready stays ready while some worker is online, offline stays offline while none is',
    run: (start) => {
      const host = start().send(workers(2, 2), workers(1, 2), workers(1, 3));
      expect(host.held).toEqual(['starting', 'ready', 'ready', 'ready']);
      expect(host.context).toMatchObject({ onlineWorkers: 1, workers: 3 });
      host.send(workers(0, 3), workers(0, 1), workers(0, 0));
      host.expect('starting > ready > offline');
      // An offline machine stays in the snapshot, greyed, with no workers left.
      expect(host.context).toMatchObject({ onlineWorkers: 0, workers: 0 });
      expect(host.status).toBe('active');
    },
  },
];

describe('host machine: sequences driven with transition()', () => {
  const start: Start = () => new PureRun(hostMachine, { id: 'm1' });
  for (const scenario of scenarios) it(scenario.name, () => scenario.run(start));

  it('these sequences together reach every state and take every transition', () => {
    const coverage = new Coverage(hostMachine);
    for (const scenario of scenarios) scenario.run(() => new PureRun(hostMachine, { id: 'm1' }, coverage));
    const report = coverage.report();
    expectEveryState(report, 'host machine, explicit sequences');
    expectEveryTransition(report, 'host machine, explicit sequences');
  });
});
