/** `recordActor` from `statehub/testing`, on interpreted actors of our own machines. */
import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { hostMachine, workerMachine } from 'statehub/machines';
import { SequenceMismatchError, recordActor } from 'statehub/testing';

describe('recordActor', () => {
  it('records from the current snapshot, top-level states with repeats dropped', () => {
    const actor = createActor(hostMachine, { id: 'm1', input: { id: 'm1' } });
    const recording = recordActor(actor);
    actor.start();
    actor.send({ type: 'WORKERS', online: 0, total: 1 });
    actor.send({ type: 'WORKERS', online: 1, total: 1 });
    actor.send({ type: 'WORKERS', online: 2, total: 2 });
    actor.send({ type: 'WORKERS', online: 0, total: 2 });
    actor.send({ type: 'WORKERS', online: 1, total: 2 });

    expect(recording.states()).toEqual(['starting', 'ready', 'offline', 'ready']);
    expect(recording.values[0]).toBe('starting');
    recording.expect('starting > ready > offline > ready');
    recording.expect('starting > ready', { prefix: true });
    recording.stop();
    actor.stop();
  });

  it('fails with a SequenceMismatchError that names the actor', () => {
    const actor = createActor(hostMachine, { id: 'm1', input: { id: 'm1' } }).start();
    const recording = recordActor(actor);
    actor.send({ type: 'WORKERS', online: 1, total: 1 });
    let error: unknown;
    try {
      recording.expect('starting > offline');
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(SequenceMismatchError);
    expect((error as Error).message).toBe(
      ['actor m1 differs: step 2 is ready, expected offline', '  expected: starting > offline', '  actual:   starting > ready', `${' '.repeat(23)}^`].join('\n'),
    );
    actor.stop();
  });

  it('stops recording on stop()', () => {
    const actor = createActor(workerMachine, {
      input: { id: 'w1', sessionId: 's1', machineId: 'm1', capabilities: {}, connectorIds: [] },
    }).start();
    const recording = recordActor(actor);
    actor.send({ type: 'LEASES', count: 1 });
    recording.stop();
    actor.send({ type: 'LEASES', count: 0 });
    actor.send({ type: 'DRAIN' });
    expect(actor.getSnapshot().value).toBe('draining');
    recording.expect('ready > busy');
    actor.stop();
  });
});
