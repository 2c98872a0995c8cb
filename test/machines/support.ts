/**
 * Support for the machine tests (not a test file itself):
 *
 * - `edgesOf` / `stateIdsOf`: every transition and state node of a machine, from `xstate/graph`
 *   (`toDirectedGraph`, `getStateNodes`), with the eventless (`always`) transitions that
 *   `toDirectedGraph` leaves out added back.
 * - `Tracer`: one pure step, as `transition()` computes it, that also tells which transition
 *   definitions were taken and which state nodes were entered on the way. Transient states
 *   (left at once through `always`) are never held, so only the microsteps show them.
 * - `exploreGraph`: the paths `xstate/graph` generates (shortest paths to every state, and those
 *   paths extended by every event the adjacency map offers), replayed through the tracer, with
 *   what they reached and what they missed.
 * - `PureRun`: drives a machine with XState's pure `transition()` / `initialTransition()`, the way
 *   the hub runs jobs, workers and machines, keeping the delayed events as pending timers.
 */
import {
  initialTransition,
  transition,
  type ActorLogic,
  type AnyActorScope,
  type AnyMachineSnapshot,
  type AnyStateMachine,
  type AnyTransitionDefinition,
  type EventFromLogic,
  type EventObject,
  type InputFrom,
  type InspectedMicrostepEvent,
  type SnapshotFrom,
  type StateValue,
} from 'xstate';
import {
  getAdjacencyMap,
  getShortestPaths,
  getStateNodes,
  toDirectedGraph,
  type AdjacencyMap,
  type DirectedGraphNode,
  type StatePath,
  type TraversalOptions,
} from 'xstate/graph';
import { topState } from 'statehub';
import { inertScope } from '../../src/hub/step.js';
import { collapse, expectSequence, type SequenceOptions } from 'statehub/testing';

/** XState's own events, which the hub feeds too: delayed (`xstate.after.*`) and invoked actors' (`xstate.done.actor.*`). */
export type XStateEvent = { type: `xstate.${string}`; [key: string]: unknown };

// ---------------------------------------------------------------------------------------------
// Edges and state nodes

export interface Edge {
  /** Readable and unique: `job.attemptFailed --always [hasAttemptsLeft]--> job.retrying`. */
  name: string;
  source: string;
  target: string;
  /** The event type, or `always` for an eventless transition. */
  event: string;
  guard: string | undefined;
  transition: AnyTransitionDefinition;
}

/** A guard as written in the machine: `hasAttemptsLeft`, `not(holdsJobs)`. */
export function guardName(guard: unknown): string | undefined {
  if (guard === undefined || guard === null) return undefined;
  if (typeof guard === 'string') return guard;
  if (typeof guard === 'object' && 'type' in guard) return String(guard.type);
  if (typeof guard === 'function') {
    const composite = guard as { guards?: unknown[]; name: string };
    if (composite.guards) return `${composite.name}(${composite.guards.map(guardName).join(', ')})`;
    return composite.name || 'inline guard';
  }
  return String(guard);
}

function edge(transition: AnyTransitionDefinition, source: string, target: string, event: string): Edge {
  const guard = guardName(transition.guard);
  return { name: `${source} --${event}${guard ? ` [${guard}]` : ''}--> ${target}`, source, target, event, guard, transition };
}

/** Every transition of the machine, one edge per (transition, target); a targetless transition points back at its source. */
export function edgesOf(machine: AnyStateMachine): Edge[] {
  const edges: Edge[] = [];
  const walk = (node: DirectedGraphNode) => {
    for (const directed of node.edges) edges.push(edge(directed.transition, directed.source.id, directed.target.id, directed.label.text));
    // toDirectedGraph lists the event transitions only: add the eventless ones.
    for (const always of node.stateNode.always ?? []) {
      for (const target of always.target ?? [node.stateNode]) edges.push(edge(always, node.stateNode.id, target.id, 'always'));
    }
    node.children.forEach(walk);
  };
  walk(toDirectedGraph(machine));
  const names = edges.map((e) => e.name);
  const twice = names.filter((name, index) => names.indexOf(name) !== index);
  if (twice.length > 0) throw new Error(`edge names are not unique: ${twice.join(', ')}`);
  return edges;
}

/** Ids of every state node below the root, nested ones included (`connector.idle.checking`). */
export function stateIdsOf(machine: AnyStateMachine): string[] {
  return getStateNodes(machine.root).map((node) => node.id);
}

// ---------------------------------------------------------------------------------------------
// Tracing pure steps

export interface TracedStep {
  snapshot: AnyMachineSnapshot;
  /** The transition definitions taken, in order, eventless ones included. */
  transitions: AnyTransitionDefinition[];
  /** Ids of every state node active after some microstep of the step. */
  nodes: string[];
  /** The top-level state after each microstep, in order (the snapshot's own state last). */
  passed: string[];
}

const tracers = new WeakMap<AnyStateMachine, Tracer>();

/**
 * Computes steps like `machine.transition()` does, with an actor scope whose system is inspected:
 * every microstep reports the transitions it took (XState's `@xstate.microstep` inspection event).
 */
export class Tracer {
  private microsteps: InspectedMicrostepEvent[] = [];
  private readonly scope: AnyActorScope;

  static of(machine: AnyStateMachine): Tracer {
    let tracer = tracers.get(machine);
    if (!tracer) tracers.set(machine, (tracer = new Tracer(machine)));
    return tracer;
  }

  constructor(readonly machine: AnyStateMachine) {
    this.scope = inertScope(
      machine,
      () => {},
      (event) => {
        if (event.type === '@xstate.microstep') this.microsteps.push(event as InspectedMicrostepEvent);
      },
    );
  }

  initial(input: unknown): TracedStep {
    return this.trace(() => this.machine.getInitialSnapshot(this.scope, input) as AnyMachineSnapshot);
  }

  step(snapshot: AnyMachineSnapshot, event: EventObject): TracedStep {
    return this.trace(() => this.machine.transition(snapshot, event, this.scope) as AnyMachineSnapshot);
  }

  private trace(compute: () => AnyMachineSnapshot): TracedStep {
    this.microsteps = [];
    const snapshot = compute();
    const transitions: AnyTransitionDefinition[] = [];
    const nodes = new Set<string>();
    const passed: string[] = [];
    for (const microstep of this.microsteps) {
      const reached = microstep.snapshot as AnyMachineSnapshot;
      transitions.push(...microstep._transitions);
      for (const node of reached._nodes) nodes.add(node.id);
      passed.push(topState(reached.value));
    }
    for (const node of snapshot._nodes) nodes.add(node.id);
    if (passed.at(-1) !== topState(snapshot.value)) passed.push(topState(snapshot.value));
    return { snapshot, transitions, nodes: [...nodes].filter((id) => id !== this.machine.id), passed };
  }
}

// ---------------------------------------------------------------------------------------------
// Coverage

export interface CoverageReport {
  states: { all: string[]; reached: string[]; unreached: string[] };
  edges: { all: string[]; covered: string[]; uncovered: string[] };
}

/** Which state nodes and transitions some traced step reached. */
export class Coverage {
  private readonly states = new Set<string>();
  private readonly transitions = new Set<AnyTransitionDefinition>();

  constructor(readonly machine: AnyStateMachine) {}

  add(step: TracedStep): void {
    for (const node of step.nodes) this.states.add(node);
    for (const transition of step.transitions) this.transitions.add(transition);
  }

  report(): CoverageReport {
    const states = stateIdsOf(this.machine);
    const edges = edgesOf(this.machine);
    const covered = edges.filter((e) => this.transitions.has(e.transition)).map((e) => e.name);
    return {
      states: { all: states, reached: states.filter((id) => this.states.has(id)), unreached: states.filter((id) => !this.states.has(id)) },
      edges: { all: edges.map((e) => e.name), covered, uncovered: edges.map((e) => e.name).filter((name) => !covered.includes(name)) },
    };
  }
}

// ---------------------------------------------------------------------------------------------
// Paths generated by xstate/graph

export interface GraphOptions<TMachine extends AnyStateMachine> {
  input: InputFrom<TMachine>;
  /**
   * Sample events with concrete payloads; the graph offers, in each state, every sample of the
   * event types that state has transitions for (delayed `xstate.after.*` and invoked actors'
   * `xstate.done.actor.*` / `xstate.error.actor.*` events included). An event type with no
   * sample is never offered, so its transitions show up as not taken.
   */
  events: Array<EventFromLogic<TMachine> | XStateEvent>;
  /** Which snapshots count as the same vertex; keep it finite (counters grow without bound). */
  serializeState: (snapshot: SnapshotFrom<TMachine>) => string;
}

export interface GeneratedPath {
  /** `ASSIGN > START > FAIL`: the events from the initial state. */
  description: string;
  events: EventObject[];
  /** The state value the graph says the path ends in. */
  value: StateValue;
  /** For a transition path: the state value its last event was sent in. */
  from?: StateValue;
}

export interface GraphExploration extends CoverageReport {
  /** Vertices of the adjacency map (distinct serialized states). */
  vertices: number;
  shortestPaths: GeneratedPath[];
  /** A shortest path to each vertex, extended by each event the vertex offers. */
  transitionPaths: GeneratedPath[];
  /** Top-level states (transient ones in passing) of each path, replayed. */
  sequences: Map<GeneratedPath, string[]>;
}

/**
 * `ASSIGN > START`; where several samples share a type, the fields that tell them apart are
 * shown: `LEASES(count=1)`, `REGISTER(sessionId=s2)`.
 */
function eventDescriber(samples: EventObject[]): (events: EventObject[]) => string {
  const distinguishing = new Map<string, string[]>();
  for (const { type } of samples) {
    const same = samples.filter((sample) => sample.type === type) as unknown as Array<Record<string, unknown>>;
    if (same.length < 2) continue;
    const primitive = (value: unknown) => ['string', 'number', 'boolean'].includes(typeof value);
    const keys = Object.keys(same[0]!).filter(
      (key) => key !== 'type' && same.every((sample) => primitive(sample[key])) && new Set(same.map((sample) => sample[key])).size > 1,
    );
    distinguishing.set(type, keys);
  }
  const describe = (event: EventObject) => {
    const keys = distinguishing.get(event.type) ?? [];
    const fields = keys.map((key) => `${key}=${String((event as unknown as Record<string, unknown>)[key])}`);
    return fields.length > 0 ? `${event.type}(${fields.join(',')})` : event.type;
  };
  return (events) => (events.length === 0 ? '(initial)' : events.map(describe).join(' > '));
}

/** Generates paths with xstate/graph and replays each through the tracer from the initial state. */
export function exploreGraph<TMachine extends AnyStateMachine>(machine: TMachine, options: GraphOptions<TMachine>): GraphExploration {
  const samples = options.events as EventObject[];
  const serializeState = (snapshot: AnyMachineSnapshot) => options.serializeState(snapshot as SnapshotFrom<TMachine>);
  // Like xstate/graph's default for machines: in each state, offer the samples of the event types
  // that state (or an ancestor) has transitions for. A type without a sample is not made up.
  const offered = (snapshot: AnyMachineSnapshot) => {
    const accepted = new Set(snapshot._nodes.flatMap((node) => node.ownEvents));
    return samples.filter((sample) => accepted.has(sample.type));
  };
  const traversal: TraversalOptions<AnyMachineSnapshot, EventObject, unknown> = { input: options.input, events: offered, serializeState };
  const logic = machine as unknown as ActorLogic<AnyMachineSnapshot, EventObject, unknown>;
  const shortest: Array<StatePath<AnyMachineSnapshot, EventObject>> = getShortestPaths(logic, traversal);
  const adjacency: AdjacencyMap<AnyMachineSnapshot, EventObject> = getAdjacencyMap(logic, traversal);

  const describeEvents = eventDescriber(samples);
  const toPath = (events: EventObject[], value: StateValue): GeneratedPath => ({ description: describeEvents(events), events, value });
  const byVertex = new Map<string, GeneratedPath>();
  const shortestPaths = shortest.map((path) => {
    // Steps are [initial via xstate.init, then each state with the event that reached it].
    const generated = toPath(
      path.steps.slice(1).map((step) => step.event),
      path.state.value,
    );
    byVertex.set(serializeState(path.state), generated);
    return generated;
  });
  const transitionPaths: GeneratedPath[] = [];
  for (const [vertex, { transitions }] of Object.entries(adjacency)) {
    const head = byVertex.get(vertex);
    if (!head) throw new Error(`no shortest path to vertex ${vertex}`);
    const next = Object.values(transitions) as Array<{ event: EventObject; state: AnyMachineSnapshot }>;
    for (const { event, state } of next) transitionPaths.push({ ...toPath([...head.events, event], state.value), from: head.value });
  }

  const tracer = Tracer.of(machine);
  const coverage = new Coverage(machine);
  const sequences = new Map<GeneratedPath, string[]>();
  for (const path of [...shortestPaths, ...transitionPaths]) {
    let step = tracer.initial(options.input);
    coverage.add(step);
    const passed = [...step.passed];
    for (const event of path.events) {
      step = tracer.step(step.snapshot, event);
      coverage.add(step);
      passed.push(...step.passed);
    }
    if (JSON.stringify(step.snapshot.value) !== JSON.stringify(path.value)) {
      throw new Error(`replaying ${path.description} ends in ${JSON.stringify(step.snapshot.value)}, the graph says ${JSON.stringify(path.value)}`);
    }
    sequences.set(path, collapse(passed));
  }
  return { vertices: Object.keys(adjacency).length, shortestPaths, transitionPaths, sequences, ...coverage.report() };
}

/** Fails listing the state nodes nothing reached. */
export function expectEveryState(report: CoverageReport, what: string): void {
  const { unreached, all } = report.states;
  if (unreached.length > 0) throw new Error(`${what}: ${unreached.length} of ${all.length} states never reached:\n  ${unreached.join('\n  ')}`);
}

/** Fails listing the transitions nothing took. */
export function expectEveryTransition(report: CoverageReport, what: string): void {
  const { uncovered, all } = report.edges;
  if (uncovered.length > 0) throw new Error(`${what}: ${uncovered.length} of ${all.length} transitions never taken:\n  ${uncovered.join('\n  ')}`);
}

// ---------------------------------------------------------------------------------------------
// Pure runs

/** An action a step asked the runner to perform, without its `exec`/`info`. */
export interface Effect {
  type: string;
  params: unknown;
}

export interface PendingTimer {
  event: EventObject;
  delay: number;
}

/**
 * One actor driven with `initialTransition()` and `transition()` from 'xstate'. Keeps what the
 * hub keeps: the snapshot, the top-level state after every step (its record's `state`) and the
 * delayed events as timers (set by `xstate.raise` with a delay, dropped by `xstate.cancel`).
 */
export class PureRun<TMachine extends AnyStateMachine> {
  snapshot: SnapshotFrom<TMachine>;
  /** Every action the last step returned, built-ins (`xstate.raise`, `xstate.cancel`) included. */
  actions: Effect[] = [];
  /** Pending delayed events by id. */
  readonly timers = new Map<string, PendingTimer>();
  /** The top-level state after every step, as records would show it (repeats included). */
  readonly held: string[] = [];
  /** The top-level states after every microstep: transient states show here. */
  readonly passed: string[] = [];
  private readonly tracer: Tracer;

  constructor(
    readonly machine: TMachine,
    input: InputFrom<TMachine>,
    private readonly coverage?: Coverage,
  ) {
    const [snapshot, actions] = (initialTransition as (logic: TMachine, input: InputFrom<TMachine>) => [SnapshotFrom<TMachine>, Effect[]])(machine, input);
    this.tracer = Tracer.of(machine);
    const traced = this.tracer.initial(input);
    this.coverage?.add(traced);
    this.snapshot = snapshot;
    this.apply(actions);
    this.held.push(this.state);
    this.passed.push(...traced.passed);
  }

  get state(): string {
    return topState((this.snapshot as AnyMachineSnapshot).value);
  }

  get context(): SnapshotFrom<TMachine> extends { context: infer C } ? C : never {
    return (this.snapshot as AnyMachineSnapshot).context;
  }

  get status(): string {
    return (this.snapshot as AnyMachineSnapshot).status;
  }

  /** Sends each event in turn, like the hub's `tx.send`. */
  send(...events: Array<EventFromLogic<TMachine> | XStateEvent>): this {
    for (const event of events) {
      const before = this.snapshot as AnyMachineSnapshot;
      const [next, actions] = transition(this.machine, this.snapshot, event as EventFromLogic<TMachine>);
      const traced = this.tracer.step(before, event);
      if (JSON.stringify(traced.snapshot.value) !== JSON.stringify((next as AnyMachineSnapshot).value)) {
        throw new Error(`the tracer disagrees with transition() on ${(event as EventObject).type}`);
      }
      this.coverage?.add(traced);
      this.snapshot = next;
      this.apply(actions as Effect[]);
      this.held.push(this.state);
      this.passed.push(...traced.passed);
    }
    return this;
  }

  /** The id of the pending timer of delay `name` (`retryBackoff` -> `xstate.after.retryBackoff.job.retrying`). */
  timerId(name: string): string {
    const ids = [...this.timers.keys()].filter((id) => id.startsWith(`xstate.after.${name}.`));
    if (ids.length !== 1) throw new Error(`expected one pending ${name} timer, pending: ${[...this.timers.keys()].join(', ') || 'none'}`);
    return ids[0]!;
  }

  /** The delay, in ms, of the pending timer `name`. */
  delay(name: string): number {
    return this.timers.get(this.timerId(name))!.delay;
  }

  /** Pending timers as `{ delayName: ms }`. */
  pending(): Record<string, number> {
    return Object.fromEntries([...this.timers].map(([id, timer]) => [id.split('.')[2], timer.delay]));
  }

  /** Fires the pending timer `name` as the hub's timer loop does once it is due. */
  fire(name: string): this {
    const id = this.timerId(name);
    const timer = this.timers.get(id)!;
    this.timers.delete(id);
    return this.send(timer.event as XStateEvent);
  }

  /** The named effects of the last step (no `xstate.*` built-ins), with their params. */
  effects(): Effect[] {
    return this.actions.filter((action) => !action.type.startsWith('xstate.'));
  }

  /** Asserts the held top-level states, consecutive repeats dropped: `pending > assigned > running`. */
  expect(expected: string | readonly string[], options?: SequenceOptions): void {
    expectSequence(collapse(this.held), expected, { label: `${this.machine.id} (held)`, ...options });
  }

  /** Asserts every top-level state passed through, transient ones included. */
  expectPassed(expected: string | readonly string[], options?: SequenceOptions): void {
    expectSequence(collapse(this.passed), expected, { label: `${this.machine.id} (passed)`, ...options });
  }

  private apply(actions: Effect[]): void {
    this.actions = actions.map(({ type, params }) => ({ type, params }));
    for (const { type, params } of this.actions) {
      if (type === 'xstate.raise') {
        const raised = params as { id?: string; event: EventObject; delay?: number };
        if (raised.delay !== undefined) this.timers.set(raised.id ?? raised.event.type, { event: raised.event, delay: raised.delay });
      } else if (type === 'xstate.cancel') {
        this.timers.delete((params as { sendId: string }).sendId);
      }
    }
  }
}
