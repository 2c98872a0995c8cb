/** A table of actor records, one row each (`data-id` is the actor's id), with a fallback when there are none. */
import { For, Show, type JSX } from 'solid-js';
import type { ActorRecord } from '../../../src/protocol/record.js';

export interface Column {
  head: string;
  cell: (record: ActorRecord) => JSX.Element;
  /** A tooltip for the cell. */
  title?: (record: ActorRecord) => string;
}

export function RecordTable(props: { class: string; records: ActorRecord[]; columns: Column[]; empty: string }) {
  return (
    <Show when={props.records.length > 0} fallback={<p class="empty">{props.empty}</p>}>
      <table class={props.class}>
        <thead>
          <tr>
            <For each={props.columns}>{(column) => <th>{column.head}</th>}</For>
          </tr>
        </thead>
        <tbody>
          <For each={props.records}>
            {(record) => (
              <tr data-id={record.id}>
                <For each={props.columns}>{(column) => <td title={column.title?.(record)}>{column.cell(record)}</td>}</For>
              </tr>
            )}
          </For>
        </tbody>
      </table>
    </Show>
  );
}
