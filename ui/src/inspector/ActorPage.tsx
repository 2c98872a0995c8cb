/**
 * One actor (`/#/actors/:id`): its machine as a chart with the current state lit, following it
 * live, beside every change the hub keeps of it. Selecting a change (a click, ← →, Home) travels
 * back to it: the chart, the event, the context and what the change did to it, exactly as stored
 * at that offset (`?at=<offset>` in the address); "live" (or End) comes back to now.
 */
import { A, useParams, useSearchParams } from '@solidjs/router';
import { fromActorRef } from '@xstate/solid';
import type { AnyActorRef } from 'xstate';
import { Show, createMemo, onCleanup, onMount } from 'solid-js';
import type { ActorRecord, LogEntry } from '../../../src/protocol/record.js';
import { StateLabel } from '../components/StateBadge.js';
import { useHub } from '../context.js';
import { clock } from '../format.js';
import { createActorHistory, newestRecord } from '../history.js';
import { withEvents } from './actor-changes.js';
import { Chart } from './Chart.js';
import { takenMarks } from './chart-graph.js';
import { ChangeDetails } from './ChangeDetails.js';
import { activeStates, valueText } from './statechart.js';
import { takenTransitions } from './taken.js';
import { actorPath } from './links.js';
import { Timeline } from './Timeline.js';
import { WithChart } from './WithChart.js';
import './inspector.css';

export function ActorPage() {
  const hub = useHub();
  const params = useParams<{ id: string }>();
  const [search, setSearch] = useSearchParams<{ at?: string }>();
  const id = () => decodeURIComponent(params.id);
  const history = createActorHistory(withEvents(hub), id);
  const live = fromActorRef(() => hub.actor(id()) as unknown as AnyActorRef) as unknown as () => ActorRecord | undefined;

  const travelling = () => search.at !== undefined;
  /** Index of the shown change in the history: the newest while following live; -1 when the asked offset is not kept. */
  const index = createMemo(() => (travelling() ? history.entries().findIndex((entry) => entry.offset === search.at) : history.entries().length - 1));
  const record = createMemo(() => {
    const entry = history.entries()[index()];
    return travelling() ? entry?.record : newestRecord(live(), entry?.record);
  });
  /** The history's entry for the shown record (live, the stream may be a change ahead of the history). */
  const entry = createMemo((): LogEntry | undefined => {
    const candidate = history.entries()[index()];
    return candidate && candidate.record.seq === record()?.seq ? candidate : undefined;
  });
  /** The type of the event that made the shown change (changes recorded before the hub kept events have none). */
  const eventType = () => entry()?.event?.type;
  const previous = createMemo((): LogEntry | undefined => {
    const before = history.entries()[index() - 1];
    return before && before.record.seq === (entry()?.record.seq ?? 0) - 1 ? before : undefined;
  });

  const go = (offset: string | undefined) => setSearch({ at: offset });
  /** Older (-1) or newer (+1): past the newest is live; from live, one back is the change before the newest. */
  const step = (by: -1 | 1) => {
    const entries = history.entries();
    const from = travelling() ? index() : entries.length - 1;
    if (from < 0) return;
    const to = from + by;
    if (to >= entries.length || (!travelling() && by > 0)) return go(undefined);
    const target = entries[Math.max(0, to)];
    if (target) go(target.offset);
  };
  const keys = (event: KeyboardEvent) => {
    if (event.altKey || event.ctrlKey || event.metaKey || (event.target instanceof Element && event.target.closest('input, textarea, select'))) return;
    const inTimeline = event.target instanceof Element && event.target.closest('.timeline') !== null;
    const moves: Record<string, () => void> = {
      ArrowLeft: () => step(-1),
      ArrowRight: () => step(1),
      Home: () => go(history.entries()[0]?.offset),
      End: () => go(undefined),
      ...(inTimeline ? { ArrowUp: () => step(-1), ArrowDown: () => step(1) } : {}),
    };
    const move = moves[event.key];
    if (!move) return;
    event.preventDefault();
    move();
  };
  onMount(() => document.addEventListener('keydown', keys));
  onCleanup(() => document.removeEventListener('keydown', keys));

  return (
    <div class="page inspector actor-view" data-actor={id()} data-mode={travelling() ? 'travel' : 'live'}>
      <header class="inspector-head">
        <h2>{id()}</h2>
        <Show when={record()}>
          {(shown) => (
            <>
              <StateLabel state={shown().removed ? 'removed' : shown().state} />
              <span class="muted">
                {shown().kind}
                <Show when={shown().version}> · version {shown().version}</Show>
              </span>
              <Show when={shown().parentId}>
                {(parent) => (
                  <span>
                    in <A href={actorPath(parent())}>{parent()}</A>
                  </span>
                )}
              </Show>
              <Show when={shown().kind === 'job'}>
                <A href={`/jobs/${encodeURIComponent(id())}`}>job page</A>
              </Show>
              <A href={`/machines/${shown().kind}`}>all {shown().kind}s</A>
            </>
          )}
        </Show>
        <span class="spacer" />
        <span class="travel-state" role="status">
          {travelling() ? (record() ? `at change ${record()?.seq}, ${clock(record()?.updatedAt ?? '')}` : 'change not kept') : 'following live'}
        </span>
        <button class="live" classList={{ primary: travelling() }} aria-pressed={!travelling()} onClick={() => go(undefined)}>
          live
        </button>
      </header>
      <Show when={history.error() && !record()}>
        <p class="error" role="alert">
          Cannot read this actor: {history.error()}
        </p>
      </Show>
      <Show when={travelling() && index() < 0 && history.entries().length > 0}>
        <p class="note" role="note">
          The hub no longer keeps the change at offset {search.at} (it keeps the last {history.limit()} changes of an actor). Pick one below, or go back to live.
        </p>
      </Show>
      <div class="inspector-grid">
        <section class="panel chart-panel" aria-label="state chart">
          <Show when={record()} fallback={<p class="muted">{history.error() ? '' : 'loading…'}</p>}>
            {(shown) => (
              <>
                <Show when={!shown().version}>
                  <p class="note" role="note">
                    This record carries no definition version (it was made before records had one): the chart is the definition the hub runs now, which may differ from the one that made it.
                  </p>
                </Show>
                <WithChart kind={shown().kind} version={shown().version}>
                  {(machine, layout) => {
                    const active = createMemo(() => activeStates(machine.chart, shown().snapshot.value));
                    // The transition(s) that led to the shown change from the one before it.
                    const taken = createMemo(() => {
                      const before = previous();
                      const transitions = before ? takenTransitions(machine.chart, before.record.snapshot.value, shown().snapshot.value, eventType()) : [];
                      return new Map(takenMarks(layout.graph, transitions).map((mark) => [mark, 1]));
                    });
                    return (
                      <>
                        <Show when={!active()}>
                          <p class="error" role="alert">
                            This record’s state ({valueText(shown().snapshot.value)}) is not in version {machine.answer.version} of the {machine.answer.kind} machine.
                          </p>
                        </Show>
                        <div class="chart-scroll">
                          <Chart layout={layout} label={`${machine.answer.kind} machine, ${id()} in ${valueText(shown().snapshot.value)}`} active={active() ?? new Set()} taken={taken()} />
                        </div>
                      </>
                    );
                  }}
                </WithChart>
              </>
            )}
          </Show>
        </section>
        <aside class="panel timeline-panel" aria-label="changes">
          <h3>Changes</h3>
          <Show when={history.limit() !== undefined && (history.entries()[0]?.record.seq ?? 1) > 1}>
            <p class="muted">The hub keeps the last {history.limit()} changes of an actor; earlier ones are not shown.</p>
          </Show>
          <Timeline actorId={id()} entries={history.entries()} selected={index()} onSelect={go} />
          <p class="muted keys">← → step through changes · Home the first · End live</p>
        </aside>
      </div>
      <Show when={entry()}>{(shown) => <ChangeDetails entry={shown()} previous={previous()} />}</Show>
    </div>
  );
}
