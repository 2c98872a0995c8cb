/**
 * The job machine (machines/job.ts), as the hub runs it: pure `transition()` steps over the
 * persisted snapshot, delays kept as timers. First the paths xstate/graph derives must reach
 * every state and take every transition; then the sequences written out one by one.
 */
import { describe, expect, it } from 'vitest';
import { JOB_DEFAULTS, MAX_BACKOFF_MS, NEVER, jobMachine, retryDelay, type JobInput, type JobMachine } from 'statehub/machines';
import { Coverage, PureRun, edgesOf, expectEveryState, expectEveryTransition, exploreGraph, stateIdsOf, type Effect } from './support.js';

const CREATED_AT = '2025-01-01T00:00:00.000Z';

const jobInput = (extra: Partial<JobInput> = {}): JobInput => ({ type: 'render', payload: { frames: 3 }, createdAt: CREATED_AT, ...extra });

const ASSIGN = { type: 'ASSIGN', workerId: 'w1', connectorId: 'c1' } as const;
const START = { type: 'START' } as const;
const FAIL = { type: 'FAIL', error: { message: 'boom' } } as const;
const PERMANENT_FAIL = { type: 'FAIL', error: { message: 'result too large' }, retryable: false } as const;

const abortWork = (reason: string, workerId = 'w1', connectorId = 'c1'): Effect => ({ type: 'abortWork', params: { workerId, connectorId, reason } });

// ---------------------------------------------------------------------------------------------

describe('job machine: paths derived with xstate/graph', () => {
  const graph = exploreGraph(jobMachine, {
    // Two attempts, so both branches of every "attempts left?" choice are on some path.
    input: jobInput({ maxAttempts: 2, timeoutMs: 60_000 }),
    events: [
      ASSIGN,
      START,
      { type: 'PROGRESS', progress: 50 },
      { type: 'COMPLETE', result: { frames: 3 } },
      { ...FAIL, retryable: true },
      PERMANENT_FAIL,
      { type: 'LEASE_LOST', reason: 'worker w1 is stale' },
      { type: 'CANCEL', reason: 'not needed' },
      { type: 'xstate.after.ackTimeout.job.assigned' },
      { type: 'xstate.after.jobTimeout.job.running' },
      { type: 'xstate.after.retryBackoff.job.retrying' },
    ],
    serializeState: (snapshot) => JSON.stringify([snapshot.value, snapshot.context.attempts]),
  });

  it('knows the 9 states and 21 transitions of machines/job.ts', () => {
    expect(stateIdsOf(jobMachine)).toEqual([
      'job.pending',
      'job.assigned',
      'job.running',
      'job.attemptFailed',
      'job.leaseLost',
      'job.retrying',
      'job.completed',
      'job.failed',
      'job.cancelled',
    ]);
    expect(edgesOf(jobMachine).map((edge) => edge.name)).toEqual([
      'job.pending --ASSIGN--> job.assigned',
      'job.pending --CANCEL--> job.cancelled',
      'job.assigned --START--> job.running',
      'job.assigned --FAIL [isPermanent]--> job.failed',
      'job.assigned --FAIL--> job.attemptFailed',
      'job.assigned --LEASE_LOST--> job.leaseLost',
      'job.assigned --CANCEL--> job.cancelled',
      'job.assigned --xstate.after.ackTimeout.job.assigned--> job.leaseLost',
      'job.running --PROGRESS--> job.running',
      'job.running --COMPLETE--> job.completed',
      'job.running --FAIL [isPermanent]--> job.failed',
      'job.running --FAIL--> job.attemptFailed',
      'job.running --LEASE_LOST--> job.leaseLost',
      'job.running --CANCEL--> job.cancelled',
      'job.running --xstate.after.jobTimeout.job.running--> job.attemptFailed',
      'job.attemptFailed --always [hasAttemptsLeft]--> job.retrying',
      'job.attemptFailed --always--> job.failed',
      'job.leaseLost --always [hasAttemptsLeft]--> job.pending',
      'job.leaseLost --always--> job.failed',
      'job.retrying --CANCEL--> job.cancelled',
      'job.retrying --xstate.after.retryBackoff.job.retrying--> job.pending',
    ]);
  });

  it('reaches every state node on some generated path', () => {
    expectEveryState(graph, 'job machine, generated paths');
    expect(graph.states.reached).toHaveLength(9);
  });

  it('takes every transition on some generated path, the eventless ones of the transient states included', () => {
    expectEveryTransition(graph, 'job machine, generated paths');
    expect(graph.edges.covered).toHaveLength(21);
  });

  it('never holds the transient states: no path ends in attemptFailed or leaseLost, yet paths pass through both', () => {
    const ends = new Set([...graph.shortestPaths, ...graph.transitionPaths].map((path) => JSON.stringify(path.value)));
    expect(ends).not.toContain('"attemptFailed"');
    expect(ends).not.toContain('"leaseLost"');
    const passed = new Set([...graph.sequences.values()].flat());
    expect(passed).toContain('attemptFailed');
    expect(passed).toContain('leaseLost');
  });

  it('finds these shortest paths (state sequences include the transient states passed)', () => {
    const table = Object.fromEntries(graph.shortestPaths.map((path) => [path.description, graph.sequences.get(path)!.join(' > ')]));
    expect(Object.keys(table)).toHaveLength(graph.shortestPaths.length);
    expect(table).toEqual({
      '(initial)': 'pending',
      ASSIGN: 'pending > assigned',
      CANCEL: 'pending > cancelled',
      'ASSIGN > START': 'pending > assigned > running',
      'ASSIGN > FAIL(retryable=true)': 'pending > assigned > attemptFailed > retrying',
      'ASSIGN > FAIL(retryable=false)': 'pending > assigned > failed',
      'ASSIGN > LEASE_LOST': 'pending > assigned > leaseLost > pending',
      'ASSIGN > CANCEL': 'pending > assigned > cancelled',
      'ASSIGN > START > COMPLETE': 'pending > assigned > running > completed',
      'ASSIGN > LEASE_LOST > ASSIGN': 'pending > assigned > leaseLost > pending > assigned',
      'ASSIGN > LEASE_LOST > ASSIGN > START': 'pending > assigned > leaseLost > pending > assigned > running',
      'ASSIGN > LEASE_LOST > ASSIGN > FAIL(retryable=true)': 'pending > assigned > leaseLost > pending > assigned > attemptFailed > failed',
      'ASSIGN > LEASE_LOST > ASSIGN > CANCEL': 'pending > assigned > leaseLost > pending > assigned > cancelled',
      'ASSIGN > LEASE_LOST > ASSIGN > START > COMPLETE': 'pending > assigned > leaseLost > pending > assigned > running > completed',
    });
  });
});

// ---------------------------------------------------------------------------------------------

type Start = (extra?: Partial<JobInput>) => PureRun<JobMachine>;

interface Scenario {
  name: string;
  run: (start: Start) => void;
}

/** Written out one by one; run as tests below, then all together for their coverage. */
const scenarios: Scenario[] = [
  {
    name: 'pending > assigned > running > completed, with the ack and job timers set and cleared on the way',
    run: (start) => {
      const job = start({ timeoutMs: 60_000 });
      expect(job.context).toMatchObject({
        type: 'render',
        payload: { frames: 3 },
        priority: JOB_DEFAULTS.priority,
        attempts: 0,
        maxAttempts: JOB_DEFAULTS.maxAttempts,
        backoffMs: JOB_DEFAULTS.backoffMs,
        ackTimeoutMs: JOB_DEFAULTS.ackTimeoutMs,
        progress: 0,
        workerId: null,
        connectorId: null,
        result: null,
        error: null,
        createdAt: CREATED_AT,
      });
      expect(job.actions).toEqual([]);

      job.send(ASSIGN);
      expect(job.context).toMatchObject({ attempts: 1, workerId: 'w1', connectorId: 'c1', progress: 0 });
      expect(job.pending()).toEqual({ ackTimeout: 10_000 });

      job.send(START);
      expect(job.actions).toContainEqual({ type: 'xstate.cancel', params: { sendId: 'xstate.after.ackTimeout.job.assigned' } });
      expect(job.pending()).toEqual({ jobTimeout: 60_000 });

      job.send({ type: 'PROGRESS', progress: 40 });
      expect(job.context.progress).toBe(40);
      job.send({ type: 'COMPLETE', result: { url: 'out.png' } });

      job.expect('pending > assigned > running > completed');
      expect(job.status).toBe('done');
      expect(job.context).toMatchObject({ result: { url: 'out.png' }, progress: 100, error: null, attempts: 1, workerId: 'w1', connectorId: 'c1' });
      expect(job.pending()).toEqual({});
      expect(job.effects()).toEqual([]);
    },
  },
  {
    name: 'progress is clamped to 0..100 and does not restart the job timeout',
    run: (start) => {
      const job = start({ timeoutMs: 5_000 }).send(ASSIGN, START);
      job.send({ type: 'PROGRESS', progress: 150 });
      expect(job.context.progress).toBe(100);
      expect(job.actions).toEqual([]);
      job.send({ type: 'PROGRESS', progress: -3 });
      expect(job.context.progress).toBe(0);
      job.send({ type: 'PROGRESS', progress: 62.5 });
      expect(job.context.progress).toBe(62.5);
      expect(job.actions).toEqual([]);
      job.send({ type: 'COMPLETE' });
      expect(job.context.result).toBeNull();
      job.expect('pending > assigned > running > completed');
    },
  },
  {
    name: 'a progress message stays with the progress it came with, until the next report, a retry or the end',
    run: (start) => {
      const job = start().send(ASSIGN, START);
      job.send({ type: 'PROGRESS', progress: 30, message: 'node 3 of 10' });
      expect(job.context).toMatchObject({ progress: 30, progressMessage: 'node 3 of 10' });
      job.send({ type: 'PROGRESS', progress: 40 });
      expect(job.context).toMatchObject({ progress: 40, progressMessage: null });
      job.send({ type: 'PROGRESS', progress: 50, message: 'decoding' }, FAIL);
      expect(job.context).toMatchObject({ progress: 0, progressMessage: null });
      job.fire('retryBackoff').send(ASSIGN, START, { type: 'PROGRESS', progress: 90, message: 'saving' }, { type: 'COMPLETE' });
      expect(job.context).toMatchObject({ progress: 100, progressMessage: null });
    },
  },
  {
    name: 'pending > assigned > running > retrying > pending > assigned > running > completed: a failed attempt is retried after its backoff',
    run: (start) => {
      const job = start().send(ASSIGN, START, FAIL);
      expect(job.state).toBe('retrying');
      expect(job.context).toMatchObject({ attempts: 1, error: { message: 'boom' }, workerId: null, connectorId: null, progress: 0 });
      expect(job.pending()).toEqual({ retryBackoff: 1_000 });
      expect(job.effects()).toEqual([]);

      job.fire('retryBackoff');
      expect(job.state).toBe('pending');
      expect(job.context.error).toEqual({ message: 'boom' });

      job.send({ type: 'ASSIGN', workerId: 'w2', connectorId: 'c7' }, START, { type: 'COMPLETE', result: 'ok' });
      job.expect('pending > assigned > running > retrying > pending > assigned > running > completed');
      job.expectPassed('pending > assigned > running > attemptFailed > retrying > pending > assigned > running > completed');
      expect(job.context).toMatchObject({ attempts: 2, error: null, result: 'ok', progress: 100, workerId: 'w2', connectorId: 'c7' });
    },
  },
  {
    name: 'the retry backoff doubles: 1000, 2000, 4000 ms, then the last attempt fails the job',
    run: (start) => {
      const job = start({ maxAttempts: 4 });
      const delays: number[] = [];
      for (let attempt = 1; attempt <= 3; attempt++) {
        job.send(ASSIGN, START, FAIL);
        expect(job.actions).toContainEqual({
          type: 'xstate.raise',
          params: { event: { type: 'xstate.after.retryBackoff.job.retrying' }, id: 'xstate.after.retryBackoff.job.retrying', delay: retryDelay(job.context) },
        });
        delays.push(job.delay('retryBackoff'));
        job.fire('retryBackoff');
      }
      expect(delays).toEqual([1_000, 2_000, 4_000]);

      job.send(ASSIGN, START, { type: 'FAIL', error: { message: 'still broken' } });
      job.expect(
        'pending > assigned > running > retrying > pending > assigned > running > retrying > pending > assigned > running > retrying > pending > assigned > running > failed',
      );
      expect(job.status).toBe('done');
      expect(job.pending()).toEqual({});
      // The last holder and the last error stay visible on a failed job.
      expect(job.context).toMatchObject({ attempts: 4, error: { message: 'still broken' }, workerId: 'w1', connectorId: 'c1' });
    },
  },
  {
    name: 'the retry backoff follows backoffMs: 250, then 500 ms',
    run: (start) => {
      const job = start({ backoffMs: 250 }).send(ASSIGN, FAIL);
      expect(job.delay('retryBackoff')).toBe(250);
      job.fire('retryBackoff').send(ASSIGN, START, FAIL);
      expect(job.delay('retryBackoff')).toBe(500);
      job.expect('pending > assigned > retrying > pending > assigned > running > retrying');
    },
  },
  {
    name: 'pending > assigned > running > failed: the only attempt fails',
    run: (start) => {
      const job = start({ maxAttempts: 1 }).send(ASSIGN, START, FAIL);
      job.expect('pending > assigned > running > failed');
      job.expectPassed('pending > assigned > running > attemptFailed > failed');
      expect(job.status).toBe('done');
      expect(job.context).toMatchObject({ attempts: 1, error: { message: 'boom' }, workerId: 'w1', connectorId: 'c1' });
      expect(job.effects()).toEqual([]);
    },
  },
  {
    name: 'pending > assigned > running > failed: a failure retrying cannot fix uses up no more attempts',
    run: (start) => {
      const running = start({ maxAttempts: 5 }).send(ASSIGN, START, PERMANENT_FAIL);
      running.expect('pending > assigned > running > failed');
      expect(running.context).toMatchObject({ attempts: 1, error: { message: 'result too large' }, workerId: 'w1', connectorId: 'c1' });
      const assigned = start({ maxAttempts: 5 }).send(ASSIGN, PERMANENT_FAIL);
      assigned.expect('pending > assigned > failed');
      expect(assigned.pending()).toEqual({});
    },
  },
  {
    name: 'pending > assigned > retrying: a connector may fail the job before starting it',
    run: (start) => {
      const job = start().send(ASSIGN, { type: 'FAIL', error: { message: 'unsupported payload' } });
      job.expect('pending > assigned > retrying');
      job.expectPassed('pending > assigned > attemptFailed > retrying');
      expect(job.pending()).toEqual({ retryBackoff: 1_000 });
      expect(job.context).toMatchObject({ attempts: 1, error: { message: 'unsupported payload' }, workerId: null });
    },
  },
  {
    name: 'pending > cancelled',
    run: (start) => {
      const job = start().send({ type: 'CANCEL' });
      job.expect('pending > cancelled');
      expect(job.status).toBe('done');
      expect(job.effects()).toEqual([]);
      expect(job.context.attempts).toBe(0);
    },
  },
  {
    name: 'pending > assigned > cancelled: the worker holding the lease is told to abort',
    run: (start) => {
      const job = start().send(ASSIGN, { type: 'CANCEL' });
      job.expect('pending > assigned > cancelled');
      expect(job.effects()).toEqual([abortWork('cancelled')]);
      expect(job.pending()).toEqual({});
    },
  },
  {
    name: 'pending > assigned > running > cancelled: abortWork names the lease holder and the reason',
    run: (start) => {
      const job = start({ timeoutMs: 30_000 }).send(ASSIGN, START, { type: 'PROGRESS', progress: 30 });
      job.send({ type: 'CANCEL', reason: 'user asked' });
      job.expect('pending > assigned > running > cancelled');
      expect(job.status).toBe('done');
      expect(job.effects()).toEqual([abortWork('user asked')]);
      expect(job.actions).toEqual([{ type: 'xstate.cancel', params: { sendId: 'xstate.after.jobTimeout.job.running' } }, abortWork('user asked')]);
      expect(job.pending()).toEqual({});
      expect(job.context).toMatchObject({ workerId: 'w1', connectorId: 'c1', progress: 30 });
    },
  },
  {
    name: 'pending > assigned > running > retrying > cancelled: nothing to abort while waiting, the retry timer is dropped',
    run: (start) => {
      const job = start().send(ASSIGN, START, FAIL);
      job.send({ type: 'CANCEL', reason: 'gave up' });
      job.expect('pending > assigned > running > retrying > cancelled');
      expect(job.effects()).toEqual([]);
      expect(job.actions).toContainEqual({ type: 'xstate.cancel', params: { sendId: 'xstate.after.retryBackoff.job.retrying' } });
      expect(job.pending()).toEqual({});
    },
  },
  {
    name: 'timeout: running > retrying, the work is aborted and the error says why',
    run: (start) => {
      const job = start({ timeoutMs: 5_000 }).send(ASSIGN, START);
      expect(job.pending()).toEqual({ jobTimeout: 5_000 });
      job.fire('jobTimeout');
      job.expect('pending > assigned > running > retrying');
      job.expectPassed('pending > assigned > running > attemptFailed > retrying');
      expect(job.effects()).toEqual([abortWork('timed out')]);
      expect(job.context).toMatchObject({ attempts: 1, error: { message: 'timed out after 5000 ms' }, workerId: null, connectorId: null });
      expect(job.pending()).toEqual({ retryBackoff: 1_000 });
    },
  },
  {
    name: 'timeout on the last attempt: running > failed',
    run: (start) => {
      const job = start({ timeoutMs: 5_000, maxAttempts: 1 }).send(ASSIGN, START).fire('jobTimeout');
      job.expect('pending > assigned > running > failed');
      expect(job.effects()).toEqual([abortWork('timed out')]);
      expect(job.context).toMatchObject({ error: { message: 'timed out after 5000 ms' }, workerId: 'w1' });
      expect(job.pending()).toEqual({});
    },
  },
  {
    name: 'without timeoutMs the job timer is NEVER, which the hub does not store',
    run: (start) => {
      const job = start().send(ASSIGN, START);
      expect(job.context.timeoutMs).toBeNull();
      expect(job.pending()).toEqual({ jobTimeout: NEVER });
    },
  },
  {
    name: 'lease lost while running with attempts left: running > pending at once, no backoff, no abort',
    run: (start) => {
      const job = start({ timeoutMs: 5_000 }).send(ASSIGN, START, { type: 'PROGRESS', progress: 70 });
      job.send({ type: 'LEASE_LOST', reason: 'worker w1 is stale' });
      job.expect('pending > assigned > running > pending');
      job.expectPassed('pending > assigned > running > leaseLost > pending');
      expect(job.effects()).toEqual([]);
      expect(job.pending()).toEqual({});
      expect(job.context).toMatchObject({ attempts: 1, error: { message: 'worker w1 is stale' }, workerId: null, connectorId: null, progress: 0 });
      job.send({ type: 'ASSIGN', workerId: 'w2', connectorId: 'c2' });
      expect(job.context.attempts).toBe(2);
    },
  },
  {
    name: 'lease lost while running on the last attempt: running > failed',
    run: (start) => {
      const job = start({ maxAttempts: 1 }).send(ASSIGN, START, { type: 'LEASE_LOST', reason: 'worker w1 is offline' });
      job.expect('pending > assigned > running > failed');
      job.expectPassed('pending > assigned > running > leaseLost > failed');
      expect(job.status).toBe('done');
      expect(job.context).toMatchObject({ error: { message: 'worker w1 is offline' }, workerId: 'w1', connectorId: 'c1' });
    },
  },
  {
    name: 'lease lost before the start: assigned > pending',
    run: (start) => {
      const job = start().send(ASSIGN, { type: 'LEASE_LOST', reason: 'worker w1 started a new session' });
      job.expect('pending > assigned > pending');
      job.expectPassed('pending > assigned > leaseLost > pending');
      expect(job.pending()).toEqual({});
      expect(job.context).toMatchObject({ attempts: 1, workerId: null, error: { message: 'worker w1 started a new session' } });
    },
  },
  {
    name: 'ack timeout: assigned > pending, the worker is told to give the job up and the attempt counts',
    run: (start) => {
      const job = start({ ackTimeoutMs: 2_500 }).send(ASSIGN);
      expect(job.pending()).toEqual({ ackTimeout: 2_500 });
      job.fire('ackTimeout');
      job.expect('pending > assigned > pending');
      job.expectPassed('pending > assigned > leaseLost > pending');
      expect(job.effects()).toEqual([abortWork('not started in time')]);
      expect(job.context).toMatchObject({ attempts: 1, error: { message: 'worker did not start the job within 2500 ms' }, workerId: null });
      expect(job.pending()).toEqual({});
    },
  },
  {
    name: 'ack timeout on the last attempt: assigned > failed',
    run: (start) => {
      const job = start({ maxAttempts: 1 }).send(ASSIGN).fire('ackTimeout');
      job.expect('pending > assigned > failed');
      job.expectPassed('pending > assigned > leaseLost > failed');
      expect(job.effects()).toEqual([abortWork('not started in time')]);
      expect(job.context.error).toEqual({ message: 'worker did not start the job within 10000 ms' });
    },
  },
  {
    name: 'events a state does not handle change nothing, and final states take no more events',
    run: (start) => {
      const job = start().send(START, { type: 'COMPLETE' }, { type: 'PROGRESS', progress: 10 }, FAIL, { type: 'LEASE_LOST', reason: 'x' });
      job.expect('pending');
      expect(job.context).toMatchObject({ attempts: 0, progress: 0, error: null });

      job.send(ASSIGN, START, { type: 'COMPLETE', result: 1 });
      job.send({ type: 'CANCEL' }, ASSIGN, FAIL, { type: 'LEASE_LOST', reason: 'x' });
      job.expect('pending > assigned > running > completed');
      expect(job.effects()).toEqual([]);
      expect(job.context).toMatchObject({ attempts: 1, result: 1, error: null });
    },
  },
];

describe('job machine: sequences driven with transition()', () => {
  const start: Start = (extra) => new PureRun(jobMachine, jobInput(extra));
  for (const scenario of scenarios) it(scenario.name, () => scenario.run(start));

  it('these sequences together reach every state and take every transition', () => {
    const coverage = new Coverage(jobMachine);
    for (const scenario of scenarios) scenario.run((extra) => new PureRun(jobMachine, jobInput(extra), coverage));
    const report = coverage.report();
    expectEveryState(report, 'job machine, explicit sequences');
    expectEveryTransition(report, 'job machine, explicit sequences');
  });
});

describe('retryDelay', () => {
  it('is backoffMs before the first retry and doubles per attempt, capped at MAX_BACKOFF_MS', () => {
    expect([1, 2, 3, 4].map((attempts) => retryDelay({ attempts, backoffMs: 1_000 }))).toEqual([1_000, 2_000, 4_000, 8_000]);
    expect(retryDelay({ attempts: 0, backoffMs: 1_000 })).toBe(1_000);
    expect(retryDelay({ attempts: 30, backoffMs: 1_000 })).toBe(MAX_BACKOFF_MS);
  });
});
