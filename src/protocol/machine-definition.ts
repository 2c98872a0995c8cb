/**
 * A machine's definition as data, the types only: what `GET /api/machines/:kind` serves and what
 * a chart is drawn from. Apart from definition.ts (which reads a running machine and hashes it
 * with node:crypto) so the monitor UI can use them without Node.
 */

export interface TransitionDefinition {
  /**
   * The event type as XState names it: `ASSIGN`, `xstate.after.<delay>.<state id>`,
   * `xstate.done.actor.<id>`, `xstate.error.actor.<id>`; `''` for an eventless (`always`) one.
   */
  event: string;
  /** For people: `ASSIGN`, `after healthInterval`, `done: checkHealth`, `error: checkHealth`, `always`. */
  label: string;
  /** Ids of the target states; empty for a transition that stays (actions only). */
  targets: string[];
  /** The guard's name, if any (`!name` for a negated one, `guard` for an inline function). */
  guard?: string;
  /** For delayed transitions: the delay's name or its ms. */
  delay?: string | number;
  /** Named actions, in order (`xstate.assign` for inline assigns). */
  actions: string[];
  /** Leaves and re-enters its source state even when the target is inside it. */
  reenter: boolean;
}

export interface StateDefinition {
  /** Full id: `connector.idle.ready`. */
  id: string;
  /** Name within its parent: `ready`. */
  key: string;
  type: 'atomic' | 'compound' | 'parallel' | 'final' | 'history';
  /** Key of the initial child, for compound states. */
  initial?: string;
  /** Actors invoked while in this state, by their source name. */
  invoke: string[];
  transitions: TransitionDefinition[];
  /** Children, in definition order. */
  states: StateDefinition[];
}

export interface MachineDefinition {
  /** The machine's id (the root state's id). */
  id: string;
  /** First 16 hex digits of the SHA-256 of the rest of this definition as JSON. */
  version: string;
  root: StateDefinition;
}
