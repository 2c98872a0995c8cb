/**
 * The fleet chart (`/#/machines/:kind`): the chart of a kind with, on each state, how many live
 * actors are in it now, and the transitions they took in the last minute drawn heavier. Clicking
 * a state lists its actors (`?state=<state id>` in the address).
 *
 * The page follows the kind with a monitor of its own, asking for events (an event narrows which
 * arrow a change took), resumed from the records the page's monitor holds so only what changed
 * after comes. Counts come from its records, so they equal GET /api/snapshot at the offset the
 * chart carries (data-offset); the arrows come from the hub's count of the log's last minute as
 * of that offset, plus the changes after it (recent.ts), so every page draws the same, whenever
 * it was opened.
 */
import { A, useParams, useSearchParams } from '@solidjs/router';
import { For, Show, createMemo, createResource, createSignal, onCleanup } from 'solid-js';
import type { RecentAnswer } from '../../../src/protocol/recent.js';
import type { Kind } from '../../../src/protocol/record.js';
import { useNow } from '../clock.js';
import { useHub } from '../context.js';
import { plural } from '../format.js';
import { Chart } from './Chart.js';
import type { ChartLayout } from './layout.js';
import { actorPath } from './links.js';
import { listMachines, type LoadedMachine } from './machines.js';
import { RecentArrows } from './recent.js';
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
  const shared = hub.model.source.view;
  const monitor = hub.monitor({
    filter: { kinds: [kind] },
    events: true,
    ...(shared.offset === undefined ? {} : { resume: { offset: shared.offset, records: [...shared.records.values()].filter((record) => record.kind === kind) } }),
  });
  onCleanup(() => monitor.close());
  const view = monitor.view;
  const tally = new FleetTally(chart, kind, view.records.values());
  // Changes are applied as the view applies them, and drawn once a frame.
  const [changed, setChanged] = createSignal(0);
  let frame = 0;
  const redraw = () => {
    if (frame === 0) frame = requestAnimationFrame(() => ((frame = 0), setChanged((n) => n + 1)));
  };
  onCleanup(() => cancelAnimationFrame(frame));
  onCleanup(
    view.subscribe((changes, reset) => {
      tally.apply(changes, reset);
      redraw();
    }),
  );
  const recent = new RecentArrows(
    { view, kind, read: (offset) => hub.api<RecentAnswer>(`/api/machines/${kind}/recent?offset=${encodeURIComponent(offset)}`), changed: redraw },
    chart,
    props.layout.graph,
  );
  onCleanup(() => recent.close());
  const reading = createMemo(() => {
    changed();
    return { counts: new Map(tally.allCounts()), offset: recent.offset(), offChart: tally.offChart() };
  });
  const taken = createMemo(() => (changed(), recent.weights(now())));
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
          The number on a state: live {kind}s in it now. Heavier arrows (×n): how many changes of {kind}s went along them in the last minute, as the hub’s log has them (by the hub’s
          clock){reading().offset === undefined ? '; reading it from the hub…' : ''}. Click a state to list its {kind}s.
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
