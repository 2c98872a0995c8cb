/**
 * Reading a definition for the inspector: which states a record's value lights, and which
 * transitions explain a change between two values (through transient choice states too).
 */
import { describe, expect, it } from 'vitest';
import { activeStates, valueText } from '../../ui/src/inspector/statechart.js';
import { takenTransitions } from '../../ui/src/inspector/taken.js';
import { statechartOf } from './inspector-support.js';

const job = statechartOf('job');
const connector = statechartOf('connector');
const worker = statechartOf('worker');

/** What the chart writes for each transition id. */
function texts(chart: ReturnType<typeof statechartOf>, ids: string[]): string[] {
  return ids.map((id) => {
    const transition = chart.transitions.find((candidate) => candidate.id === id);
    if (!transition) throw new Error(`no transition ${id}`);
    return `${transition.source.split('.').slice(1).join('.') || '(machine)'}: ${transition.text}`;
  });
}

describe('activeStates', () => {
  it('lights a state with its parents and the machine', () => {
    expect(activeStates(job, 'running')).toEqual(new Set(['job', 'job.running']));
    expect(activeStates(connector, { idle: 'ready' })).toEqual(new Set(['connector', 'connector.idle', 'connector.idle.ready']));
  });

  it('says so when the value names a state the definition lacks (a record from another build)', () => {
    expect(activeStates(job, 'paused')).toBeUndefined();
    expect(activeStates(connector, { idle: 'sleeping' })).toBeUndefined();
  });

  it('writes values on one line', () => {
    expect(valueText('running')).toBe('running');
    expect(valueText({ idle: 'ready' })).toBe('idle.ready');
    expect(valueText({ upload: { file: 'sending', meta: 'done' } })).toBe('upload.(file.sending, meta.done)');
  });
});

describe('takenTransitions', () => {
  it('finds the one transition of a plain change', () => {
    expect(texts(job, takenTransitions(job, 'running', 'completed'))).toEqual(['running: COMPLETE']);
    expect(texts(job, takenTransitions(job, 'pending', 'assigned'))).toEqual(['pending: ASSIGN']);
  });

  it('goes through transient choice states, and keeps every explanation the values allow', () => {
    expect(texts(job, takenTransitions(job, 'running', 'retrying')).sort()).toEqual(
      ['attemptFailed: always [hasAttemptsLeft]', 'running: FAIL', 'running: after jobTimeout'].sort(),
    );
    expect(texts(job, takenTransitions(job, 'running', 'pending')).sort()).toEqual(['leaseLost: always [hasAttemptsLeft]', 'running: LEASE_LOST'].sort());
  });

  it('keeps only the paths that begin with the event, when the event is known', () => {
    expect(texts(job, takenTransitions(job, 'running', 'retrying', 'FAIL')).sort()).toEqual(['attemptFailed: always [hasAttemptsLeft]', 'running: FAIL'].sort());
    expect(texts(job, takenTransitions(job, 'running', 'failed', 'FAIL')).sort()).toEqual(['attemptFailed: always', 'running: FAIL', 'running: FAIL [isPermanent]'].sort());
    // An event the definition does not name leaves the values to decide.
    expect(texts(job, takenTransitions(job, 'running', 'completed', 'SOMETHING_ELSE'))).toEqual(['running: COMPLETE']);
  });

  it('explains a change that stays in its state by the transitions that stay', () => {
    expect(texts(job, takenTransitions(job, 'running', 'running'))).toEqual(['running: PROGRESS']);
    expect(texts(worker, takenTransitions(worker, 'ready', 'ready')).sort()).toEqual(['ready: HEARTBEAT', 'ready: REGISTER', 'ready: REGISTER [isCurrentSession]'].sort());
    expect(takenTransitions(job, 'completed', 'completed')).toEqual([]);
  });

  it('follows nesting: into a compound state, out of a nested one, and from the machine itself', () => {
    expect(texts(connector, takenTransitions(connector, 'starting', { idle: 'ready' }))).toEqual(['starting: done: checkHealth']);
    expect(texts(connector, takenTransitions(connector, { idle: 'ready' }, 'active'))).toEqual(['idle: ASSIGN']);
    expect(texts(connector, takenTransitions(connector, { idle: 'checking' }, 'error'))).toEqual(['idle.checking: error: checkHealth']);
    expect(texts(connector, takenTransitions(connector, { idle: 'ready' }, { idle: 'checking' }))).toEqual(['idle.ready: after healthInterval']);
    expect(texts(connector, takenTransitions(connector, 'active', 'offline'))).toEqual(['(machine): WORKER_LOST']);
  });

  it('finds nothing between values the definition does not have', () => {
    expect(takenTransitions(job, 'running', 'paused')).toEqual([]);
  });
});
