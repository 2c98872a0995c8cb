/**
 * An actor's changes, oldest first: time, event, state. One is selected (the one the page shows);
 * each links to its own address (`?at=<offset>`), so a change can be shared.
 */
import { A } from '@solidjs/router';
import { For, createEffect } from 'solid-js';
import type { LogEntry } from '../../../src/protocol/record.js';
import { clock, dateTime } from '../format.js';
import { actorPath } from './links.js';
import { valueText } from './statechart.js';

export function Timeline(props: { actorId: string; entries: readonly LogEntry[]; selected: number; onSelect: (offset: string) => void }) {
  let scroller!: HTMLDivElement;
  // Keep the selected change in sight (the newest, while following live), scrolling this list
  // only: scrollIntoView would move the whole page with every live change.
  createEffect(() => {
    props.entries;
    if (props.selected < 0) return;
    const row = scroller.querySelector<HTMLTableRowElement>('tbody tr[aria-selected="true"]');
    const head = scroller.querySelector('thead')?.offsetHeight ?? 0;
    if (!row) return;
    if (row.offsetTop - head < scroller.scrollTop) scroller.scrollTop = row.offsetTop - head;
    else if (row.offsetTop + row.offsetHeight > scroller.scrollTop + scroller.clientHeight) scroller.scrollTop = row.offsetTop + row.offsetHeight - scroller.clientHeight;
  });
  return (
    <div class="timeline-scroll" ref={scroller}>
      <table class="history timeline" aria-label="changes">
        <thead>
          <tr>
            <th>seq</th>
            <th>time</th>
            <th>event</th>
            <th>state</th>
          </tr>
        </thead>
        <tbody>
          <For each={props.entries}>
            {(entry, index) => (
              <tr
                data-offset={entry.offset}
                data-seq={entry.record.seq}
                data-state={entry.record.state}
                aria-selected={index() === props.selected}
                // The seq's link navigates by itself; the rest of the row does the same.
                onClick={(click) => !(click.target as Element).closest('a') && props.onSelect(entry.offset)}
              >
                <td>
                  <A href={actorPath(props.actorId, entry.offset)}>{entry.record.seq}</A>
                </td>
                <td title={dateTime(entry.record.updatedAt)}>{clock(entry.record.updatedAt)}</td>
                <td class="event">{entry.event?.type ?? '—'}</td>
                <td>{entry.record.removed ? `${valueText(entry.record.snapshot.value)} (removed)` : valueText(entry.record.snapshot.value)}</td>
              </tr>
            )}
          </For>
        </tbody>
      </table>
    </div>
  );
}
