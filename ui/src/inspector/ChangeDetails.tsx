/**
 * One change in full, exactly as the hub stored it at its offset: the event that caused it, what
 * it changed in the context (against the change before it), and the context itself.
 */
import { For, Show, createMemo } from 'solid-js';
import type { LogEntry } from '../../../src/protocol/record.js';
import { dateTime, prettyJson } from '../format.js';
import { diffJson, pathText } from './diff.js';
import { valueText } from './statechart.js';

export function ChangeDetails(props: { entry: LogEntry; previous: LogEntry | undefined }) {
  const record = () => props.entry.record;
  const event = () => props.entry.event;
  const differences = createMemo(() => (props.previous ? diffJson(props.previous.record.snapshot.context, record().snapshot.context) : []));
  const stateBefore = () => (props.previous ? valueText(props.previous.record.snapshot.value) : undefined);
  return (
    <div class="change-details" data-offset={props.entry.offset} data-seq={record().seq}>
      <section class="panel">
        <h3>Change {record().seq}</h3>
        <dl class="facts change-facts">
          <dt>time</dt>
          <dd>{dateTime(record().updatedAt)}</dd>
          <dt>offset</dt>
          <dd>
            <code>{props.entry.offset}</code>
          </dd>
          <dt>state</dt>
          <dd class="state-value">
            {stateBefore() !== undefined && stateBefore() !== valueText(record().snapshot.value) ? `${stateBefore()} → ` : ''}
            {valueText(record().snapshot.value)}
            {record().removed ? ' (left the live set)' : ''}
          </dd>
          <dt>event</dt>
          <dd class="event">
            <Show when={event()} fallback="—">
              {(shown) => (
                <>
                  <code>{shown().type}</code>
                  <Show when={Object.keys(shown()).length > 1}>
                    <pre class="json">{prettyJson(shown())}</pre>
                  </Show>
                </>
              )}
            </Show>
          </dd>
        </dl>
      </section>
      <section class="panel diff-panel">
        <h3>Context: what changed</h3>
        <Show
          when={props.previous}
          fallback={<p class="muted">{record().seq === 1 ? 'The actor’s first record: nothing before it.' : `The change before it (seq ${record().seq - 1}) is no longer kept by the hub.`}</p>}
        >
          <Show when={differences().length > 0} fallback={<p class="muted">The context did not change.</p>}>
            <table class="diff">
              <thead>
                <tr>
                  <th>field</th>
                  <th>before (seq {props.previous?.record.seq})</th>
                  <th>after</th>
                </tr>
              </thead>
              <tbody>
                <For each={differences()}>
                  {(difference) => (
                    <tr class={difference.change} data-path={pathText(difference.path)}>
                      <td>
                        <code>{pathText(difference.path)}</code>
                      </td>
                      <td class="before">{difference.change === 'added' ? '—' : brief(difference.before)}</td>
                      <td class="after">{difference.change === 'removed' ? '—' : brief(difference.after)}</td>
                    </tr>
                  )}
                </For>
              </tbody>
            </table>
          </Show>
        </Show>
      </section>
      <section class="panel context-panel">
        <h3>Context</h3>
        <pre class="json context">{prettyJson(record().snapshot.context)}</pre>
      </section>
    </div>
  );
}

/** A value on one line, cut when long (the full context is below). */
function brief(value: unknown): string {
  const text = JSON.stringify(value) ?? 'undefined';
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
