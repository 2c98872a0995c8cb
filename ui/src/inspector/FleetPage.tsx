/**
 * The fleet chart (`/#/machines/:kind`): the chart of a kind with, on each state, how many live
 * actors are in it now, and the transitions they took in the last minute drawn heavier. Clicking
 * a state lists its actors (`?state=<state id>` in the address). Counts come from the records the
 * page's monitor holds, so they equal GET /api/snapshot at the offset the chart carries (data-offset).
 */
import { A, useParams, useSearchParams } from '@solidjs/router';
import { For, Show, createMemo, createResource, onCleanup } from 'solid-js';
import type { Kind } from '../../../src/protocol/record.js';
import { useNow } from '../clock.js';
import { useHub } from '../context.js';
import { clock, plural } from '../format.js';
import { Chart } from './Chart.js';
import type { ChartLayout } from './layout.js';
import { actorPath } from './links.js';
import { listMachines, type LoadedMachine } from './machines.js';
import { FleetTally } from './tally.js';
import { WithChart } from './WithChart.js';
import './inspector.css';

/** How many actors a state's list shows at once: a state may hold 100,000 jobs. */
const LISTED = 500;

export function FleetPage() {
  const hub = useHub();
  const params = useParams<{ kind?: string }>();
  const kind = () => params.kind ?? 'job';
  const [machines] = createResource(() => listMachines(hub));
  return (
    <div class="page inspector fleet-view" data-kind={kind()}>
      <nav class="kinds" aria-label="machine kinds">
        <For each={machines.error ? [] : (machines() ?? [])}>{(machine) => <A href={`/machines/${machine.kind}`}>{machine.kind}</A>}</For>
      </nav>
      <WithChart kind={kind()} version={undefined}>
        {(machine, layout) => <FleetChart machine={machine} layout={layout} />}
      </WithChart>
    </div>
  );
}

function FleetChart(props: { machine: LoadedMachine; layout: ChartLayout }) {
  const hub = useHub();
  const now = useNow();
  const [search, setSearch] = useSearchParams<{ state?: string }>();
  const { answer, chart } = props.machine;
  const kind = answer.kind as Kind;
  const view = hub.model.source.view;
  const openedAt = hub.now();
  const tally = new FleetTally(chart, props.layout.graph, kind, view.records.values());
  // Applied as the view applies them; read once a frame through the store's signal for the kind.
  onCleanup(view.subscribe((changes, reset) => tally.apply(changes, reset)));
  const changed = kind === 'job' ? hub.jobs : hub.topology;
  const reading = createMemo(() => {
    changed();
    return { counts: new Map(tally.allCounts()), offset: view.offset, offChart: tally.offChart() };
  });
  const taken = createMemo(() => (changed(), tally.recent(now())));
  const selected = () => (search.state && chart.states.has(search.state) ? search.state : undefined);
  const members = createMemo(() => {
    changed();
    const state = selected();
    return state ? tally.actorsIn(state) : [];
  });
  const select = (state: string) => setSearch({ state: selected() === state ? undefined : state });
  const total = () => reading().counts.get(chart.root.id) ?? 0;

  return (
    <>
      <header class="inspector-head">
        <h2>{answer.id} machine</h2>
        <span class="muted">version {answer.version}</span>
        <span class="total" data-total={total()}>
          {plural(total(), kind)} on this chart
        </span>
      </header>
      <Show when={reading().offChart.length > 0}>
        <p class="note" role="note">
          Not on this chart, made by another definition:{' '}
          {reading()
            .offChart.map(({ version, count }) => `${plural(count, kind)} ${version ? `of version ${version}` : 'without a version'}`)
            .join(', ')}
          .
        </p>
      </Show>
      <section class="panel chart-panel" aria-label={`${kind} chart`}>
        <div class="chart-scroll">
          <Chart
            layout={props.layout}
            label={`${answer.id} machine: live ${kind}s per state`}
            counts={reading().counts}
            offset={reading().offset}
            taken={taken()}
            countTaken
            selected={selected()}
            onSelect={select}
          />
        </div>
        <p class="muted legend">
          The number on a state: live {kind}s in it now. Heavier arrows (×n): transitions taken in the last minute, read from the changes this page received since it opened at {clock(new Date(openedAt).toISOString())}.
          Click a state to list its {kind}s.
        </p>
      </section>
      <Show when={selected()}>
        {(state) => (
          <section class="panel members" aria-label={`${kind}s in ${state()}`}>
            <h3>
              {plural(members().length, kind)} in <code>{state()}</code>
            </h3>
            <ul class="member-list">
              <For each={members().slice(0, LISTED)}>
                {(id) => (
                  <li data-id={id}>
                    <A href={actorPath(id)}>{id}</A>
                  </li>
                )}
              </For>
            </ul>
            <Show when={members().length > LISTED}>
              <p class="muted">and {(members().length - LISTED).toLocaleString()} more</p>
            </Show>
          </section>
        )}
      </Show>
    </>
  );
}
