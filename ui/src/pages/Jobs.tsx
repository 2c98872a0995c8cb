/** Live and recently finished jobs: filter by state and type, search by id, sort; virtualized for 100,000 rows. */
import { A, useSearchParams } from '@solidjs/router';
import { createVirtualizer } from '@tanstack/solid-virtual';
import { For, Show, createMemo } from 'solid-js';
import { ProgressBar } from '../components/ProgressBar.js';
import { StateLabel } from '../components/StateBadge.js';
import { useHub } from '../context.js';
import { useNow } from '../clock.js';
import { ago } from '../format.js';
import { JOB_STATES, jobField, type JobSortKey } from '../model.js';

const ROW_HEIGHT = 36;
const COLUMNS: Array<{ key: JobSortKey | 'id' | 'attempts' | 'worker'; label: string; sortable: boolean }> = [
  { key: 'id', label: 'job', sortable: false },
  { key: 'type', label: 'type', sortable: true },
  { key: 'state', label: 'state', sortable: true },
  { key: 'progress', label: 'progress', sortable: true },
  { key: 'attempts', label: 'attempts', sortable: false },
  { key: 'priority', label: 'priority', sortable: true },
  { key: 'worker', label: 'worker', sortable: false },
  { key: 'updatedAt', label: 'updated', sortable: true },
];

export function Jobs() {
  const hub = useHub();
  const now = useNow();
  const [params, setParams] = useSearchParams<{ state?: string; type?: string; q?: string; sort?: JobSortKey; dir?: 'asc' | 'desc' }>();
  const states = () => (params.state ? params.state.split(',') : []);
  const sort = () => params.sort ?? 'updatedAt';
  const descending = () => (params.dir ? params.dir === 'desc' : sort() !== 'type');
  const jobs = createMemo(() => {
    hub.jobs();
    return hub.model.jobs({ states: states(), type: params.type ?? '', search: params.q ?? '', sort: sort(), descending: descending() });
  });
  const types = createMemo(() => (hub.jobs(), hub.model.jobTypes()));
  let scroller!: HTMLDivElement;
  const virtualizer = createVirtualizer({
    get count() {
      return jobs().length;
    },
    getScrollElement: () => scroller,
    estimateSize: () => ROW_HEIGHT,
    overscan: 12,
  });
  const toggleState = (state: string) => {
    const current = new Set(states());
    if (current.has(state)) current.delete(state);
    else current.add(state);
    setParams({ state: [...current].join(',') || undefined });
  };
  const sortBy = (key: JobSortKey) => setParams(sort() === key ? { dir: descending() ? 'asc' : 'desc' } : { sort: key, dir: undefined });

  return (
    <div class="page jobs">
      <div class="filters" role="search">
        <div class="chips" role="group" aria-label="filter by state">
          <For each={JOB_STATES}>
            {(state) => (
              <button class={`chip state-${state}`} aria-pressed={states().includes(state)} onClick={() => toggleState(state)}>
                {state}
              </button>
            )}
          </For>
        </div>
        <label>
          type{' '}
          <select value={params.type ?? ''} onChange={(event) => setParams({ type: event.currentTarget.value || undefined })}>
            <option value="">all</option>
            <For each={types()}>{(type) => <option value={type}>{type}</option>}</For>
          </select>
        </label>
        <label>
          id{' '}
          <input type="search" placeholder="search by id" value={params.q ?? ''} onInput={(event) => setParams({ q: event.currentTarget.value || undefined }, { replace: true })} />
        </label>
        <span class="muted" aria-live="polite">
          {jobs().length.toLocaleString()} of {(hub.jobs(), hub.model.jobTotal).toLocaleString()} jobs
        </span>
      </div>
      <div class="table" role="table" aria-label="jobs" aria-rowcount={jobs().length}>
        <div class="row head" role="row">
          <For each={COLUMNS}>
            {(column) => (
              <span role="columnheader" class={`cell col-${column.key}`} aria-sort={sort() === column.key ? (descending() ? 'descending' : 'ascending') : 'none'}>
                <Show when={column.sortable} fallback={column.label}>
                  <button class="link" onClick={() => sortBy(column.key as JobSortKey)}>
                    {column.label}
                    {sort() === column.key ? (descending() ? ' ↓' : ' ↑') : ''}
                  </button>
                </Show>
              </span>
            )}
          </For>
        </div>
        <div class="scroller" ref={scroller}>
          <Show when={jobs().length > 0} fallback={<p class="empty">{(hub.jobs(), hub.model.jobTotal) === 0 ? 'No jobs yet. Submit one from the Submit page.' : 'No job matches these filters.'}</p>}>
            <div style={{ height: `${virtualizer.getTotalSize()}px`, position: 'relative' }}>
              <For each={virtualizer.getVirtualItems()}>
                {(item) => {
                  const job = () => jobs()[item.index];
                  return (
                    <Show when={job()}>
                      {(row) => (
                        <div class="row" role="row" data-id={row().id} data-state={row().state} style={{ transform: `translateY(${item.start}px)`, height: `${ROW_HEIGHT}px` }}>
                          <span role="cell" class="cell col-id">
                            <A href={`/jobs/${encodeURIComponent(row().id)}`}>{row().id}</A>
                          </span>
                          <span role="cell" class="cell col-type">{String(jobField(row(), 'type'))}</span>
                          <span role="cell" class="cell col-state">
                            <StateLabel state={row().state} actorId={row().id} />
                          </span>
                          <span role="cell" class="cell col-progress">
                            <ProgressBar value={Number(jobField(row(), 'progress'))} state={row().state} />
                          </span>
                          <span role="cell" class="cell col-attempts">
                            {String(jobField(row(), 'attempts'))}/{String(jobField(row(), 'maxAttempts'))}
                          </span>
                          <span role="cell" class="cell col-priority">{String(jobField(row(), 'priority'))}</span>
                          <span role="cell" class="cell col-worker" title={String(jobField(row(), 'workerId') ?? '')}>
                            {String(jobField(row(), 'workerId') ?? '')}
                          </span>
                          <span role="cell" class="cell col-updatedAt" title={row().updatedAt}>
                            {ago(row().updatedAt, now())}
                          </span>
                        </div>
                      )}
                    </Show>
                  );
                }}
              </For>
            </div>
          </Show>
        </div>
      </div>
    </div>
  );
}
