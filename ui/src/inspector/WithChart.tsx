/**
 * Loads a definition (one version of a kind, or the one the hub runs) and its layout, then
 * renders `children` with both; meanwhile says it is laying out, and when the hub does not have
 * that version says so in the hub's words instead of drawing another version's chart.
 */
import { Match, Switch, createMemo, createResource, type JSX } from 'solid-js';
import { useHub } from '../context.js';
import { layoutChart } from './elk-worker.js';
import type { ChartLayout } from './layout.js';
import { loadMachine, type LoadedMachine } from './machines.js';

export function WithChart(props: { kind: string; version: string | undefined; children: (machine: LoadedMachine, layout: ChartLayout) => JSX.Element }) {
  const hub = useHub();
  // A string, so a new record of the same version does not load anything again.
  const key = createMemo(() => JSON.stringify([props.kind, props.version ?? null]));
  // Definition and layout as one value: a chart is never drawn with another version's layout.
  const [drawn] = createResource(key, async (which) => {
    const [kind, version] = JSON.parse(which) as [string, string | null];
    const machine = await loadMachine(hub, kind, version ?? undefined);
    return { machine, layout: await layoutChart(machine.chart) };
  });
  return (
    <Switch>
      <Match when={drawn.error as Error | undefined}>
        {(error) => (
          <p class="error chart-missing" role="alert">
            No chart to draw: {error().message}
          </p>
        )}
      </Match>
      <Match when={!drawn.loading && drawn()}>{(ready) => props.children(ready().machine, ready().layout)}</Match>
      <Match when={true}>
        <p class="muted">laying out the chart…</p>
      </Match>
    </Switch>
  );
}
