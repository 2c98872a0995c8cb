/**
 * A machine definition (GET /api/machines/:kind) read for drawing and for placing records on it:
 * every state by id, each state's parent, and every transition with an id of its own. No
 * framework and no layout here: the fleet tally, the "transition taken" search and the chart all
 * read the same object.
 */
import type { StateValue } from 'xstate';
import type { StateDefinition, TransitionDefinition } from '../../../src/protocol/machine-definition.js';

/** What `GET /api/machines/:kind` answers. */
export interface MachineAnswer {
  kind: string;
  id: string;
  version: string;
  root: StateDefinition;
}

export interface ChartTransition {
  /** `<source state id>#<index in its transitions>`: stable for one definition version. */
  id: string;
  source: string;
  /** State ids; empty for a transition that stays (drawn inside its state). */
  targets: string[];
  /** The event type as XState names it (`''` for `always`). */
  event: string;
  /** What the chart writes: the event's label, then `[guard]`. */
  text: string;
}

export interface Statechart {
  readonly root: StateDefinition;
  readonly version: string;
  readonly states: ReadonlyMap<string, StateDefinition>;
  /** State id -> its parent's id (the root has none). */
  readonly parent: ReadonlyMap<string, string>;
  /** In definition order: states depth first, each state's transitions in order. */
  readonly transitions: readonly ChartTransition[];
  /** State id -> the transitions leaving it, in order. */
  readonly outOf: ReadonlyMap<string, readonly ChartTransition[]>;
}

export function readStatechart(root: StateDefinition, version: string): Statechart {
  const states = new Map<string, StateDefinition>();
  const parent = new Map<string, string>();
  const transitions: ChartTransition[] = [];
  const outOf = new Map<string, ChartTransition[]>();
  const visit = (state: StateDefinition) => {
    states.set(state.id, state);
    const leaving = state.transitions.map((transition, index) => ({
      id: `${state.id}#${index}`,
      source: state.id,
      targets: transition.targets,
      event: transition.event,
      text: transitionText(transition),
    }));
    outOf.set(state.id, leaving);
    transitions.push(...leaving);
    for (const child of state.states) {
      parent.set(child.id, state.id);
      visit(child);
    }
  };
  visit(root);
  return { root, version, states, parent, transitions, outOf };
}

/** `FAIL [isPermanent]`, `after jobTimeout`, `always [hasAttemptsLeft]`: the label already names a delay. */
export function transitionText(transition: TransitionDefinition): string {
  return transition.guard === undefined ? transition.label : `${transition.label} [${transition.guard}]`;
}

/**
 * The states a snapshot's value puts the actor in, parents included (the root too), or undefined
 * when the value names a state this definition does not have (a record from another build).
 */
export function activeStates(chart: Statechart, value: StateValue): Set<string> | undefined {
  const active = new Set<string>([chart.root.id]);
  const enter = (state: StateDefinition, inner: StateValue): boolean => {
    const keys = typeof inner === 'string' ? [inner] : Object.keys(inner);
    for (const key of keys) {
      const child = state.states.find((candidate) => candidate.key === key);
      if (!child) return false;
      active.add(child.id);
      const below = typeof inner === 'string' ? undefined : inner[key];
      // XState writes an atomic child as a string and a compound one as an object; `{}` is a compound not entered further.
      if (below !== undefined && (typeof below === 'string' || Object.keys(below).length > 0) && !enter(child, below)) return false;
    }
    return true;
  };
  return enter(chart.root, value) ? active : undefined;
}

/** True when `id` is `ancestor` or lies inside it. */
export function isWithin(chart: Statechart, id: string, ancestor: string): boolean {
  for (let current: string | undefined = id; current !== undefined; current = chart.parent.get(current)) {
    if (current === ancestor) return true;
  }
  return false;
}

/** `idle.ready`, `running`: a state value as one line. */
export function valueText(value: StateValue): string {
  if (typeof value === 'string') return value;
  return Object.entries(value)
    .map(([key, inner]) => {
      if (inner === undefined || (typeof inner === 'object' && Object.keys(inner).length === 0)) return key;
      // Regions of a parallel state stay together: `upload.(file.sending, meta.done)`.
      return typeof inner === 'object' && Object.keys(inner).length > 1 ? `${key}.(${valueText(inner)})` : `${key}.${valueText(inner)}`;
    })
    .join(', ');
}
