/**
 * Which transitions of a definition explain one change of an actor, from its previous state
 * value to its new one: what the actor view draws heavier for the change it shows, and what the
 * fleet chart counts per edge.
 *
 * Records hold only the states an actor rests in, so a change through a transient choice state
 * (the job's `attemptFailed`, left at once by `always`) is found as a path through it. From the
 * two values alone a change may have several explanations (running -> failed: FAIL [isPermanent],
 * or FAIL then `always` with no attempt left, or a timeout...): all are returned. Given the event
 * that caused it, only the paths that begin with that event are kept, when any does.
 */
import type { StateValue } from 'xstate';
import { activeStates, isWithin, type ChartTransition, type Statechart } from './statechart.js';

export function takenTransitions(chart: Statechart, from: StateValue, to: StateValue, event?: string): string[] {
  const before = activeStates(chart, from);
  const after = activeStates(chart, to);
  if (!before || !after) return [];
  const entered = [...after].filter((id) => !before.has(id));
  // A target explains the change when the actor is in it afterwards and, if states were entered,
  // it is one of them or holds one (a compound target enters its initial child).
  const lands = (target: string) => after.has(target) && (entered.length === 0 || entered.some((id) => isWithin(chart, id, target)));
  const transient = (id: string) => {
    const state = chart.states.get(id);
    return state !== undefined && state.type === 'atomic' && state.transitions.length > 0 && state.transitions.every((transition) => transition.event === '');
  };

  const paths: ChartTransition[][] = [];
  const follow = (path: ChartTransition[], through: ReadonlySet<string>) => {
    const last = path.at(-1) as ChartTransition;
    if (last.targets.length === 0) {
      // It stays where it is: explains only a change that entered nothing.
      if (entered.length === 0) paths.push(path);
      return;
    }
    if (last.targets.every(lands)) {
      paths.push(path);
      return;
    }
    const [only] = last.targets;
    if (last.targets.length !== 1 || only === undefined || !transient(only) || through.has(only) || after.has(only)) return;
    for (const next of chart.outOf.get(only) ?? []) follow([...path, next], new Set([...through, only]));
  };
  for (const source of before) for (const start of chart.outOf.get(source) ?? []) follow([start], new Set());

  const matching = event === undefined ? [] : paths.filter((path) => path[0]?.event === event);
  const chosen = matching.length > 0 ? matching : paths;
  return [...new Set(chosen.flat().map((transition) => transition.id))];
}
