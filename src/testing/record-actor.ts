/** Records the states an interpreted XState actor goes through. */
import type { AnyActorRef, StateValue } from 'xstate';
import { topState } from '../protocol/record.js';
import { collapse, expectSequence, type SequenceOptions } from './sequence.js';

export interface ActorRecording {
  /** Every snapshot's state value, in order. */
  readonly values: StateValue[];
  /** Top-level states, consecutive repeats dropped: `['starting', 'idle', 'active', 'idle']`. */
  states(): string[];
  /** Asserts the top-level sequence so far. */
  expect(expected: string | readonly string[], options?: SequenceOptions): void;
  stop(): void;
}

/** Starts recording `actor` from its current snapshot (start the actor before or after). */
export function recordActor(actor: AnyActorRef): ActorRecording {
  const values: StateValue[] = [];
  const push = (snapshot: { value?: StateValue }) => {
    if (snapshot.value !== undefined) values.push(snapshot.value);
  };
  push(actor.getSnapshot());
  const subscription = actor.subscribe({ next: push, error: () => {} });
  const states = () => collapse(values.map(topState));
  return {
    values,
    states,
    expect: (expected, options) => expectSequence(states(), expected, { label: `actor ${actor.id}`, ...options }),
    stop: () => subscription.unsubscribe(),
  };
}
