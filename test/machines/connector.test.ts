/**
 * The connector machine (machines/connector.ts). It runs interpreted inside the worker, with
 * the worker SDK's `checkHealth` and `runJob` actors and `report*` actions; the hub computes
 * `WORKER_LOST` on its snapshot with pure `transition()`. So it is tested three ways: the paths
 * xstate/graph derives (invoked actors' `xstate.done.actor.*` / `xstate.error.actor.*` events
 * and the delays supplied as events), sequences driven with `transition()`, and interpreted
 * actors with scripted `checkHealth` / `runJob` recorded with `recordActor`.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { createActor, fromCallback, fromPromise, waitFor, type SnapshotFrom } from 'xstate';
import {
  MAX_RESTART_DELAY_MS,
  NEVER,
  connectorMachine,
  restartDelay,
  type ConnectorInput,
  type ConnectorMachine,
  type HealthReport,
  type RunJobEvent,
  type RunJobInput,
} from 'statehub/machines';
import { topState } from 'statehub';
import { recordActor } from 'statehub/testing';
import { Coverage, PureRun, edgesOf, expectEveryState, expectEveryTransition, exploreGraph, stateIdsOf, type Effect, type XStateEvent } from './support.js';

const connectorInput = (extra: Partial<ConnectorInput> = {}): ConnectorInput => ({ id: 'c1', type: 'simulation', ...extra });

// The invoke ids XState gives the two `checkHealth` invocations: `<index>.<state node id>`.
const STARTING_INVOKE = connectorMachine.root.states.starting!.invoke[0]!.id;
const CHECKING_INVOKE = connectorMachine.root.states.idle!.states.checking!.invoke[0]!.id;

const healthy = (invokeId: string, latencyMs = 12): XStateEvent => ({ type: `xstate.done.actor.${invokeId}`, output: { latencyMs } satisfies HealthReport });
const unhealthy = (invokeId: string, message = 'connection refused'): XStateEvent => ({ type: `xstate.error.actor.${invokeId}`, error: new Error(message) });

const ASSIGN = { type: 'ASSIGN', jobId: 'job-1' } as const;
const jobFailed = (serviceFault: boolean, message = serviceFault ? 'service unavailable' : 'bad prompt') =>
  ({ type: 'JOB_FAILED', error: { message }, serviceFault }) as const;

// ---------------------------------------------------------------------------------------------

describe('connector machine: paths derived with xstate/graph', () => {
  it('names its invocations after the state nodes that invoke checkHealth', () => {
    expect(STARTING_INVOKE).toBe('0.connector.starting');
    expect(CHECKING_INVOKE).toBe('0.connector.idle.checking');
  });

  const graph = exploreGraph(connectorMachine, {
    input: connectorInput({ healthIntervalMs: 30_000 }),
    events: [
      ASSIGN,
      { type: 'CANCEL', jobId: 'job-1' },
      { type: 'CANCEL', jobId: 'job-2' },
      { type: 'STOP' },
      { type: 'START' },
      { type: 'WORKER_LOST' },
      { type: 'PROGRESS', progress: 40 },
      { type: 'JOB_DONE', result: { url: 'out.png' } },
      jobFailed(false),
      jobFailed(true),
      healthy(STARTING_INVOKE),
      unhealthy(STARTING_INVOKE),
      healthy(CHECKING_INVOKE),
      unhealthy(CHECKING_INVOKE),
      { type: 'xstate.after.healthInterval.connector.idle.ready' },
      { type: 'xstate.after.restartDelay.connector.error' },
    ],
    // jobsDone and failures grow without bound: the vertex is the state and the job held.
    serializeState: (snapshot) => JSON.stringify([snapshot.value, snapshot.context.jobId]),
  });

  it('knows the 8 states (2 nested in idle) and 15 transitions of machines/connector.ts', () => {
    expect(stateIdsOf(connectorMachine)).toEqual([
      'connector.starting',
      'connector.idle',
      'connector.idle.ready',
      'connector.idle.checking',
      'connector.active',
      'connector.error',
      'connector.stopped',
      'connector.offline',
    ]);
    expect(edgesOf(connectorMachine).map((edge) => edge.name)).toEqual([
      'connector --STOP--> connector.stopped',
      'connector --WORKER_LOST--> connector.offline',
      'connector.starting --xstate.done.actor.0.connector.starting--> connector.idle',
      'connector.starting --xstate.error.actor.0.connector.starting--> connector.error',
      'connector.idle --ASSIGN--> connector.active',
      'connector.idle.ready --xstate.after.healthInterval.connector.idle.ready--> connector.idle.checking',
      'connector.idle.checking --xstate.done.actor.0.connector.idle.checking--> connector.idle.ready',
      'connector.idle.checking --xstate.error.actor.0.connector.idle.checking--> connector.error',
      'connector.active --PROGRESS--> connector.active',
      'connector.active --JOB_DONE--> connector.idle',
      'connector.active --JOB_FAILED [isServiceFault]--> connector.error',
      'connector.active --JOB_FAILED--> connector.idle',
      'connector.active --CANCEL [isCurrentJob]--> connector.idle',
      'connector.error --xstate.after.restartDelay.connector.error--> connector.starting',
      'connector.stopped --START--> connector.starting',
    ]);
  });

  it('reaches every state node, nested ones included, on some generated path', () => {
    expectEveryState(graph, 'connector machine, generated paths');
    expect(graph.states.reached).toHaveLength(8);
  });

  it('takes every transition on some generated path, the root STOP and WORKER_LOST from every state included', () => {
    expectEveryTransition(graph, 'connector machine, generated paths');
    expect(graph.edges.covered).toHaveLength(15);
    const fromEveryState = (event: string) =>
      new Set(graph.transitionPaths.filter((path) => path.events.at(-1)?.type === event).map((path) => topState(path.from!)));
    expect(fromEveryState('STOP')).toEqual(new Set(['starting', 'idle', 'active', 'error', 'stopped', 'offline']));
    expect(fromEveryState('WORKER_LOST')).toEqual(new Set(['starting', 'idle', 'active', 'error', 'stopped', 'offline']));
  });

  it('finds these shortest paths', () => {
    const table = Object.fromEntries(graph.shortestPaths.map((path) => [path.description, graph.sequences.get(path)!.join(' > ')]));
    expect(Object.keys(table)).toHaveLength(graph.shortestPaths.length);
    expect(table).toEqual({
      '(initial)': 'starting',
      STOP: 'starting > stopped',
      WORKER_LOST: 'starting > offline',
      'xstate.done.actor.0.connector.starting': 'starting > idle',
      'xstate.error.actor.0.connector.starting': 'starting > error',
      'xstate.done.actor.0.connector.starting > ASSIGN': 'starting > idle > active',
      // idle.ready > idle.checking: the same top-level state.
      'xstate.done.actor.0.connector.starting > xstate.after.healthInterval.connector.idle.ready': 'starting > idle',
    });
  });
});

// ---------------------------------------------------------------------------------------------

type Start = (extra?: Partial<ConnectorInput>) => PureRun<ConnectorMachine>;

interface Scenario {
  name: string;
  run: (start: Start) => void;
}

/** A pure connector that started healthy. */
const idle = (start: Start, extra?: Partial<ConnectorInput>) => start(extra).send(healthy(STARTING_INVOKE));

const scenarios: Scenario[] = [
  {
    name: 'starting > error > starting > error > starting > idle: the restart waits 1000, then 2000 ms, and a healthy start resets it',
    run: (start) => {
      const connector = start();
      expect(connector.actions.map((action) => action.type)).toEqual(['xstate.spawnChild']);
      connector.send(unhealthy(STARTING_INVOKE, 'connection refused'));
      expect(connector.context).toMatchObject({ failures: 1, error: { message: 'connection refused' } });
      expect(connector.pending()).toEqual({ restartDelay: 1_000 });
      connector.fire('restartDelay');
      connector.send(unhealthy(STARTING_INVOKE, 'still refused'));
      expect(connector.context).toMatchObject({ failures: 2, error: { message: 'still refused' } });
      expect(connector.pending()).toEqual({ restartDelay: 2_000 });
      connector.fire('restartDelay').send(healthy(STARTING_INVOKE, 25));
      connector.expect('starting > error > starting > error > starting > idle');
      expect(connector.snapshot.value).toEqual({ idle: 'ready' });
      expect(connector.context).toMatchObject({ failures: 0, error: null, latencyMs: 25 });
      expect(connector.effects()).toEqual([]);
    },
  },
  {
    name: 'starting > idle > active > idle: progress and the result are reported for the job held',
    run: (start) => {
      const connector = idle(start).send(ASSIGN);
      expect(connector.context.jobId).toBe('job-1');
      expect(connector.actions).toContainEqual(expect.objectContaining({ type: 'xstate.spawnChild' }));
      connector.send({ type: 'PROGRESS', progress: 40 });
      expect(connector.effects()).toEqual([{ type: 'reportProgress', params: { jobId: 'job-1', progress: 40 } }]);
      connector.send({ type: 'JOB_DONE', result: { url: 'out.png' } });
      expect(connector.effects()).toEqual([{ type: 'reportDone', params: { jobId: 'job-1', result: { url: 'out.png' } } }]);
      connector.expect('starting > idle > active > idle');
      expect(connector.context).toMatchObject({ jobId: null, jobsDone: 1 });
    },
  },
  {
    name: 'starting > idle > active > idle: a job failure that is not the service is reported and the connector stays up',
    run: (start) => {
      const connector = idle(start).send(ASSIGN, jobFailed(false));
      connector.expect('starting > idle > active > idle');
      expect(connector.effects()).toEqual([{ type: 'reportFailed', params: { jobId: 'job-1', error: { message: 'bad prompt' }, permanent: false } }]);
      expect(connector.context).toMatchObject({ jobId: null, jobsDone: 0, failures: 0, error: null });
    },
  },
  {
    name: 'starting > idle > active > idle: a permanent failure is reported as one (the job skips its other attempts)',
    run: (start) => {
      const connector = idle(start).send(ASSIGN, { ...jobFailed(false, 'content refused'), permanent: true });
      connector.expect('starting > idle > active > idle');
      expect(connector.effects()).toEqual([{ type: 'reportFailed', params: { jobId: 'job-1', error: { message: 'content refused' }, permanent: true } }]);
    },
  },
  {
    name: 'starting > idle > active > error > starting > idle: a service fault fails the job and restarts the connector',
    run: (start) => {
      const connector = idle(start).send(ASSIGN, jobFailed(true));
      expect(connector.effects()).toEqual([{ type: 'reportFailed', params: { jobId: 'job-1', error: { message: 'service unavailable' }, permanent: false } }]);
      expect(connector.context).toMatchObject({ jobId: null, failures: 1, error: { message: 'service unavailable' } });
      expect(connector.pending()).toEqual({ restartDelay: 1_000 });
      connector.fire('restartDelay').send(healthy(STARTING_INVOKE));
      connector.expect('starting > idle > active > error > starting > idle');
    },
  },
  {
    name: 'CANCEL of the job held: active > idle (leaving active stops runJob); CANCEL of another job is ignored',
    run: (start) => {
      const connector = idle(start).send(ASSIGN, { type: 'CANCEL', jobId: 'job-2' });
      expect(connector.state).toBe('active');
      expect(connector.actions).toEqual([]);
      connector.send({ type: 'CANCEL', jobId: 'job-1' });
      connector.expect('starting > idle > active > idle');
      expect(connector.actions.map((action) => action.type)).toContain('xstate.stopChild');
      expect(connector.effects()).toEqual([]);
      expect(connector.context).toMatchObject({ jobId: null, jobsDone: 0 });
    },
  },
  {
    name: 'periodic health checks: idle.ready > idle.checking > idle.ready, then a failed check goes to error',
    run: (start) => {
      const connector = idle(start, { healthIntervalMs: 30_000 });
      expect(connector.pending()).toEqual({ healthInterval: 30_000 });
      connector.fire('healthInterval');
      expect(connector.snapshot.value).toEqual({ idle: 'checking' });
      connector.send(healthy(CHECKING_INVOKE, 40));
      expect(connector.snapshot.value).toEqual({ idle: 'ready' });
      expect(connector.context.latencyMs).toBe(40);
      expect(connector.pending()).toEqual({ healthInterval: 30_000 });
      connector.fire('healthInterval').send(unhealthy(CHECKING_INVOKE, 'no answer'));
      connector.expect('starting > idle > error');
      expect(connector.context).toMatchObject({ failures: 1, error: { message: 'no answer' } });
      expect(connector.pending()).toEqual({ restartDelay: 1_000 });
    },
  },
  {
    name: 'a connector may be assigned a job while it checks its service: idle.checking > active',
    run: (start) => {
      const connector = idle(start, { healthIntervalMs: 30_000 }).fire('healthInterval').send(ASSIGN);
      connector.expect('starting > idle > active');
      expect(connector.actions.map((action) => action.type)).toEqual(['xstate.stopChild', 'xstate.spawnChild']);
    },
  },
  {
    name: 'without healthIntervalMs the health timer is NEVER, which no one fires',
    run: (start) => {
      const connector = idle(start);
      expect(connector.context.healthIntervalMs).toBeNull();
      expect(connector.pending()).toEqual({ healthInterval: NEVER });
    },
  },
  {
    name: 'WORKER_LOST, as the hub computes it: offline from starting, idle, active, error and stopped, the job let go',
    run: (start) => {
      const lost = { type: 'WORKER_LOST' } as const;
      start().send(lost).expect('starting > offline');
      idle(start).send(lost).expect('starting > idle > offline');
      const active = idle(start).send(ASSIGN, lost);
      active.expect('starting > idle > active > offline');
      expect(active.context.jobId).toBeNull();
      expect(active.effects()).toEqual([]);
      const error = start().send(unhealthy(STARTING_INVOKE), lost);
      error.expect('starting > error > offline');
      expect(error.pending()).toEqual({});
      start().send({ type: 'STOP' }, lost).expect('starting > stopped > offline');
    },
  },
  {
    name: 'offline takes no job and does not restart by itself; only STOP then START brings it back',
    run: (start) => {
      const connector = idle(start).send({ type: 'WORKER_LOST' }, ASSIGN, { type: 'START' }, { type: 'WORKER_LOST' });
      connector.expect('starting > idle > offline');
      connector.send({ type: 'STOP' }, { type: 'START' });
      connector.expect('starting > idle > offline > stopped > starting');
    },
  },
  {
    name: 'STOP from starting, idle, active and error: stopped; START: stopped > starting > idle',
    run: (start) => {
      const stop = { type: 'STOP' } as const;
      start().send(stop).expect('starting > stopped');
      idle(start).send(stop).expect('starting > idle > stopped');
      const active = idle(start).send(ASSIGN, stop);
      active.expect('starting > idle > active > stopped');
      expect(active.context.jobId).toBeNull();
      const error = start().send(unhealthy(STARTING_INVOKE), stop);
      error.expect('starting > error > stopped');
      expect(error.pending()).toEqual({});

      const restarted = idle(start).send(stop, ASSIGN, { type: 'START' });
      expect(restarted.context.jobId).toBeNull();
      restarted.send(healthy(STARTING_INVOKE));
      restarted.expect('starting > idle > stopped > starting > idle');
    },
  },
];

describe('connector machine: sequences driven with transition()', () => {
  const start: Start = (extra) => new PureRun(connectorMachine, connectorInput(extra));
  for (const scenario of scenarios) it(scenario.name, () => scenario.run(start));

  it('these sequences together reach every state and take every transition', () => {
    const coverage = new Coverage(connectorMachine);
    for (const scenario of scenarios) scenario.run((extra) => new PureRun(connectorMachine, connectorInput(extra), coverage));
    const report = coverage.report();
    expectEveryState(report, 'connector machine, explicit sequences');
    expectEveryTransition(report, 'connector machine, explicit sequences');
  });
});

describe('restartDelay', () => {
  it('is restartDelayMs after the first failure and doubles per consecutive failure, capped at MAX_RESTART_DELAY_MS', () => {
    expect([1, 2, 3, 4].map((failures) => restartDelay({ failures, restartDelayMs: 1_000 }))).toEqual([1_000, 2_000, 4_000, 8_000]);
    expect(restartDelay({ failures: 20, restartDelayMs: 1_000 })).toBe(MAX_RESTART_DELAY_MS);
  });
});

// ---------------------------------------------------------------------------------------------

interface JobRunHandle {
  jobId: string;
  sendBack: (event: RunJobEvent) => void;
  aborted: boolean;
}

/**
 * An interpreted connector whose service answers as scripted (`up` / `down`, then `up` for ever)
 * and whose jobs the test drives through the `runJob` callback it was given.
 */
function interpretedConnector(options: { health?: Array<'up' | 'down'>; input?: Partial<ConnectorInput> } = {}) {
  const script = [...(options.health ?? [])];
  const reports: Effect[] = [];
  const runs = new Map<string, JobRunHandle>();
  let healthChecks = 0;
  const logic = connectorMachine.provide({
    actors: {
      checkHealth: fromPromise<HealthReport>(async () => {
        healthChecks++;
        if ((script.shift() ?? 'up') === 'down') throw new Error('service unavailable');
        return { latencyMs: 7 };
      }),
      runJob: fromCallback<RunJobEvent, RunJobInput>(({ input, sendBack }) => {
        const run: JobRunHandle = { jobId: input.jobId, sendBack, aborted: false };
        runs.set(input.jobId, run);
        return () => {
          run.aborted = true;
        };
      }),
    },
    actions: {
      reportProgress: (_, params) => void reports.push({ type: 'reportProgress', params }),
      reportDone: (_, params) => void reports.push({ type: 'reportDone', params }),
      reportFailed: (_, params) => void reports.push({ type: 'reportFailed', params }),
    },
  });
  // restartDelayMs: 1 keeps the error backoff short; healthIntervalMs stays off unless asked.
  const actor = createActor(logic, { input: connectorInput({ restartDelayMs: 1, ...options.input }) });
  const recording = recordActor(actor);
  onTestFinished(() => {
    recording.stop();
    actor.stop();
  });
  actor.start();
  const until = (predicate: (snapshot: SnapshotFrom<typeof logic>) => boolean) => waitFor(actor, predicate, { timeout: 5_000 });
  const run = (jobId: string): JobRunHandle => {
    const handle = runs.get(jobId);
    if (!handle) throw new Error(`runJob was not started for ${jobId}`);
    return handle;
  };
  return { actor, recording, reports, run, until, healthChecks: () => healthChecks };
}

describe('connector machine: interpreted, with checkHealth and runJob provided', () => {
  it('starting > idle > active > idle: runs a job, reporting its progress and its result', async () => {
    const { actor, recording, reports, run, until } = interpretedConnector();
    await until((snapshot) => snapshot.matches('idle'));
    expect(actor.getSnapshot().context.latencyMs).toBe(7);

    actor.send(ASSIGN);
    expect(actor.getSnapshot().value).toBe('active');
    run('job-1').sendBack({ type: 'PROGRESS', progress: 50 });
    run('job-1').sendBack({ type: 'JOB_DONE', result: { url: 'out.png' } });
    await until((snapshot) => snapshot.matches('idle'));

    recording.expect('starting > idle > active > idle');
    expect(reports).toEqual([
      { type: 'reportProgress', params: { jobId: 'job-1', progress: 50 } },
      { type: 'reportDone', params: { jobId: 'job-1', result: { url: 'out.png' } } },
    ]);
    expect(actor.getSnapshot().context).toMatchObject({ jobId: null, jobsDone: 1 });
    expect(run('job-1').aborted).toBe(true);
  });

  it('starting > error > starting > idle: a service that is down at first is checked again after the restart delay', async () => {
    const { actor, recording, until } = interpretedConnector({ health: ['down', 'up'] });
    const errors: unknown[] = [];
    actor.subscribe((snapshot) => {
      if (snapshot.matches('error')) errors.push(snapshot.context.error);
    });
    await until((snapshot) => snapshot.matches('idle'));
    recording.expect('starting > error > starting > idle');
    expect(errors).toContainEqual({ message: 'service unavailable' });
    expect(actor.getSnapshot().context).toMatchObject({ failures: 0, error: null });
  });

  it('starting > error > starting > error > starting > error > starting > idle: consecutive failures count up, then reset', async () => {
    const { actor, recording, until } = interpretedConnector({ health: ['down', 'down', 'down', 'up'] });
    const failures: number[] = [];
    actor.subscribe((snapshot) => {
      if (snapshot.matches('error')) failures.push(snapshot.context.failures);
    });
    await until((snapshot) => snapshot.matches('idle'));
    recording.expect('starting > error > starting > error > starting > error > starting > idle');
    expect([...new Set(failures)]).toEqual([1, 2, 3]);
    expect(actor.getSnapshot().context.failures).toBe(0);
  });

  it('starting > idle > active > error > starting > idle: a service fault during a job fails it and restarts the connector', async () => {
    const { actor, recording, reports, run, until } = interpretedConnector();
    await until((snapshot) => snapshot.matches('idle'));
    actor.send(ASSIGN);
    run('job-1').sendBack(jobFailed(true));
    await until((snapshot) => snapshot.matches('idle'));
    recording.expect('starting > idle > active > error > starting > idle');
    expect(reports).toEqual([{ type: 'reportFailed', params: { jobId: 'job-1', error: { message: 'service unavailable' }, permanent: false } }]);
  });

  it('starting > idle > active > idle: a failed job that is not a service fault leaves the connector up', async () => {
    const { actor, recording, reports, run, until } = interpretedConnector();
    await until((snapshot) => snapshot.matches('idle'));
    actor.send(ASSIGN);
    run('job-1').sendBack(jobFailed(false));
    await until((snapshot) => snapshot.matches('idle'));
    recording.expect('starting > idle > active > idle');
    expect(reports).toEqual([{ type: 'reportFailed', params: { jobId: 'job-1', error: { message: 'bad prompt' }, permanent: false } }]);
    expect(actor.getSnapshot().context).toMatchObject({ failures: 0, jobsDone: 0 });
  });

  it('CANCEL aborts the work of the job held: active > idle, and what the aborted run sends later is dropped', async () => {
    const { actor, recording, reports, run, until } = interpretedConnector();
    await until((snapshot) => snapshot.matches('idle'));
    actor.send(ASSIGN);
    actor.send({ type: 'CANCEL', jobId: 'job-2' });
    expect(actor.getSnapshot().value).toBe('active');
    expect(run('job-1').aborted).toBe(false);

    actor.send({ type: 'CANCEL', jobId: 'job-1' });
    expect(run('job-1').aborted).toBe(true);
    run('job-1').sendBack({ type: 'JOB_DONE', result: 'too late' });
    recording.expect('starting > idle > active > idle');
    expect(reports).toEqual([]);
    expect(actor.getSnapshot().context).toMatchObject({ jobId: null, jobsDone: 0 });
  });

  it('periodic health checks: idle.ready > idle.checking > idle.ready while the service answers, error once it stops', async () => {
    const { recording, until, healthChecks } = interpretedConnector({ health: ['up', 'up', 'down', 'up'], input: { healthIntervalMs: 1 } });
    await until(() => recording.states().length >= 5 && healthChecks() >= 4);
    recording.expect('starting > idle > error > starting > idle', { prefix: true });
    expect(recording.values).toContainEqual({ idle: 'checking' });
    expect(recording.values).toContainEqual({ idle: 'ready' });
  });

  it('STOP while active aborts the work: active > stopped; START: stopped > starting > idle', async () => {
    const { actor, recording, reports, run, until } = interpretedConnector();
    await until((snapshot) => snapshot.matches('idle'));
    actor.send(ASSIGN);
    actor.send({ type: 'STOP' });
    expect(run('job-1').aborted).toBe(true);
    expect(actor.getSnapshot().context.jobId).toBeNull();
    actor.send(ASSIGN);
    expect(actor.getSnapshot().value).toBe('stopped');

    actor.send({ type: 'START' });
    await until((snapshot) => snapshot.matches('idle'));
    recording.expect('starting > idle > active > stopped > starting > idle');
    expect(reports).toEqual([]);
  });

  it('WORKER_LOST: active > offline, the work aborted, and no job is taken any more', async () => {
    const { actor, recording, run, until } = interpretedConnector();
    await until((snapshot) => snapshot.matches('idle'));
    actor.send(ASSIGN);
    actor.send({ type: 'WORKER_LOST' });
    expect(run('job-1').aborted).toBe(true);
    actor.send({ type: 'ASSIGN', jobId: 'job-3' });
    recording.expect('starting > idle > active > offline');
    expect(actor.getSnapshot().context.jobId).toBeNull();
  });
});
