/**
 * A machine's definition as data: what `GET /api/machines/:kind` serves and what a chart is
 * drawn from. It is read from the machine that runs (XState's state nodes), never written by
 * hand, and carries a version hash that every record made by that machine also carries
 * (`ActorRecord.version`), so a view can tell when a record came from another definition.
 */
import { createHash } from 'node:crypto';
import type { AnyStateMachine, AnyStateNode } from 'xstate';
import type { MachineDefinition, StateDefinition, TransitionDefinition } from './machine-definition.js';

export type { MachineDefinition, StateDefinition, TransitionDefinition } from './machine-definition.js';

/** The definition of `machine`, with its version. */
export function describeMachine(machine: AnyStateMachine): MachineDefinition {
  const root = describeState(machine.root);
  return { id: machine.id, version: definitionVersion(machine.id, root), root };
}

/** The version of a definition: the same states and transitions give the same version, in any process. */
export function definitionVersion(id: string, root: StateDefinition): string {
  return createHash('sha256').update(JSON.stringify({ id, root })).digest('hex').slice(0, 16);
}

function describeState(node: AnyStateNode): StateDefinition {
  const initial = node.type === 'compound' ? node.initial?.target?.[0]?.key : undefined;
  const transitions: TransitionDefinition[] = [];
  // An inline delay function has no name to show.
  const delays = new Map(node.after.map((after) => [after.eventType, typeof after.delay === 'function' ? 'delay' : after.delay]));
  for (const [event, candidates] of node.transitions) {
    for (const transition of candidates) {
      const delay = delays.get(event);
      const guard = guardName(transition.guard);
      transitions.push({
        event,
        label: label(event, delay, node),
        targets: (transition.target ?? []).map((target: AnyStateNode) => target.id),
        ...(guard === undefined ? {} : { guard }),
        ...(delay === undefined ? {} : { delay }),
        actions: transition.actions.map(actionName),
        reenter: transition.reenter,
      });
    }
  }
  for (const transition of node.always ?? []) {
    const guard = guardName(transition.guard);
    transitions.push({
      event: '',
      label: 'always',
      targets: (transition.target ?? []).map((target: AnyStateNode) => target.id),
      ...(guard === undefined ? {} : { guard }),
      actions: transition.actions.map(actionName),
      reenter: transition.reenter,
    });
  }
  return {
    id: node.id,
    key: node.key,
    type: node.type,
    ...(initial === undefined ? {} : { initial }),
    invoke: node.invoke.map((invoke: { src: unknown }) => (typeof invoke.src === 'string' ? invoke.src : 'inline')),
    transitions,
    states: Object.values(node.states as Record<string, AnyStateNode>).map(describeState),
  };
}

/** XState's event names for delays and invoked actors, said the way a chart labels them. */
function label(event: string, delay: string | number | undefined, node: AnyStateNode): string {
  if (delay !== undefined) return `after ${typeof delay === 'number' ? `${delay} ms` : delay}`;
  for (const [prefix, word] of [
    ['xstate.done.actor.', 'done'],
    ['xstate.error.actor.', 'error'],
  ] as const) {
    if (!event.startsWith(prefix)) continue;
    const id = event.slice(prefix.length);
    const invoked = node.invoke.find((invoke: { id: string }) => invoke.id === id) as { src: unknown } | undefined;
    return `${word}: ${typeof invoked?.src === 'string' ? invoked.src : id}`;
  }
  if (event === '*') return 'any event';
  return event;
}

function guardName(guard: unknown): string | undefined {
  if (guard === undefined) return undefined;
  if (typeof guard === 'string') return guard;
  if (typeof guard === 'object' && guard !== null && 'type' in guard) return String((guard as { type: unknown }).type);
  if (typeof guard === 'function') {
    // XState's `not(...)`, `and(...)`: their inner guards are kept on the function.
    const inner = (guard as { guards?: unknown[] }).guards;
    if (guard.name === 'not' && inner?.length === 1) return `!${guardName(inner[0])}`;
    if (inner && (guard.name === 'and' || guard.name === 'or')) return inner.map(guardName).join(guard.name === 'and' ? ' && ' : ' || ');
    return guard.name && guard.name !== 'guard' ? guard.name : 'guard';
  }
  return 'guard';
}

function actionName(action: unknown): string {
  if (typeof action === 'string') return action;
  if (typeof action === 'function') return (action as { type?: string }).type ?? (action.name || 'action');
  if (typeof action === 'object' && action !== null && 'type' in action) return String((action as { type: unknown }).type);
  return 'action';
}
