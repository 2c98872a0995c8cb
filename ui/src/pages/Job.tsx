/**
 * One job: what it is, how it went, every transition with its time; cancel from here. It shows
 * the newest record the page holds, whether the stream brought it or it was read by id, so a
 * job that finished and left the live set reads as it ended, not as it was when the page opened.
 */
import { A, useParams } from '@solidjs/router';
import { fromActorRef } from '@xstate/solid';
import type { AnyActorRef } from 'xstate';
import { For, Show, createEffect, createResource, createSignal, on } from 'solid-js';
import type { ActorRecord } from '../../../src/protocol/record.js';
import { ProgressBar } from '../components/ProgressBar.js';
import { StateLabel } from '../components/StateBadge.js';
import { useHub } from '../context.js';
import { clock, dateTime, prettyJson } from '../format.js';
import { createActorHistory, newestRecord } from '../history.js';

const FINAL = new Set(['completed', 'failed', 'cancelled']);

interface JobContext {
  type: string;
  payload: unknown;
  priority: number;
  attempts: number;
  maxAttempts: number;
  progress: number;
  /** Absent in records from before connectors could say it. */
  progressMessage?: string | null;
  workerId: string | null;
  connectorId: string | null;
  result: unknown;
  error: { message: string } | null;
  createdAt: string;
  timeoutMs: number | null;
}

export function Job() {
  const hub = useHub();
  const params = useParams<{ id: string }>();
  const id = () => decodeURIComponent(params.id);
  // As the stream brings it: its removal record once it left the live set.
  const live = fromActorRef(() => hub.actor(id()) as unknown as AnyActorRef) as unknown as () => ActorRecord | undefined;
  const [stored, { refetch }] = createResource(id, (jobId) => hub.api<ActorRecord>(`/api/jobs/${encodeURIComponent(jobId)}`));
  // Gone from the view without its last record (the monitor resynced meanwhile): read it by id.
  createEffect(on(live, (now, before) => before && !now && void refetch(), { defer: true }));
  const record = () => newestRecord(live(), stored());
  const context = () => record()?.snapshot.context as unknown as JobContext | undefined;
  const history = createActorHistory(hub, id);
  const [cancelError, setCancelError] = createSignal<string>();
  const cancel = async () => {
    setCancelError(undefined);
    try {
      await hub.api(`/api/jobs/${encodeURIComponent(id())}/cancel`, { method: 'POST' });
    } catch (error) {
      setCancelError((error as Error).message);
    }
  };

  return (
    <div class="page job">
      <p>
        <A href="/jobs">← jobs</A>
      </p>
      <Show when={record()} fallback={<p class="empty">{stored.error ? `No job ${id()}: ${stored.error.message}` : 'loading…'}</p>}>
        {(job) => (
          <>
            <header class="job-head">
              <h2>{job().id}</h2>
              <StateLabel state={job().state} actorId={job().id} />
              <Show when={!FINAL.has(job().state) && !job().removed}>
                <button class="danger" onClick={cancel}>
                  Cancel job
                </button>
              </Show>
            </header>
            <Show when={job().removed}>
              <p class="note" role="note">
                This job left the live set at {clock(job().updatedAt)}. It stays readable by id (this page, GET /api/jobs/{job().id}) for the hub's retention.
              </p>
            </Show>
            <Show when={cancelError()}>
              <p class="error" role="alert">
                {cancelError()}
              </p>
            </Show>
            <dl class="facts">
              <dt>type</dt>
              <dd>{context()?.type}</dd>
              <dt>progress</dt>
              <dd>
                <ProgressBar value={context()?.progress ?? 0} state={job().state} message={context()?.progressMessage} />
              </dd>
              <dt>attempts</dt>
              <dd>
                {context()?.attempts} of {context()?.maxAttempts}
              </dd>
              <dt>priority</dt>
              <dd>{context()?.priority}</dd>
              <dt>worker</dt>
              <dd>{context()?.workerId ?? '—'}</dd>
              <dt>connector</dt>
              <dd>{context()?.connectorId ?? '—'}</dd>
              <dt>timeout</dt>
              <dd>{context()?.timeoutMs ? `${context()?.timeoutMs} ms` : 'none'}</dd>
              <dt>created</dt>
              <dd>{dateTime(context()?.createdAt ?? '')}</dd>
            </dl>
            <Show when={context()?.error}>
              <section class="panel error-panel">
                <h3>{FINAL.has(job().state) ? 'Error' : 'Last attempt failed'}</h3>
                <pre>{context()?.error?.message}</pre>
              </section>
            </Show>
            <div class="columns">
              <section class="panel">
                <h3>Payload</h3>
                <pre class="json">{prettyJson(context()?.payload)}</pre>
              </section>
              <section class="panel">
                <h3>Result</h3>
                <pre class="json">{job().state === 'completed' ? prettyJson(context()?.result) : '—'}</pre>
              </section>
            </div>
            <section class="panel">
              <h3>Transitions</h3>
              <Show when={history.error()}>
                <p class="error">cannot read the history: {history.error()}</p>
              </Show>
              <Show when={history.limit() !== undefined && (history.entries()[0]?.record.seq ?? 1) > 1}>
                <p class="muted">The hub keeps the last {history.limit()} changes of an actor; earlier ones are not shown.</p>
              </Show>
              <table class="history">
                <thead>
                  <tr>
                    <th>seq</th>
                    <th>time</th>
                    <th>state</th>
                    <th>progress</th>
                    <th>attempt</th>
                    <th>worker</th>
                    <th>error</th>
                  </tr>
                </thead>
                <tbody>
                  <For each={history.entries()}>
                    {({ record: item, offset }, index) => {
                      const c = item.snapshot.context as unknown as JobContext;
                      // An error shows on the change that recorded it; the rows after it only keep it.
                      const before = () => history.entries()[index() - 1]?.record.snapshot.context as unknown as JobContext | undefined;
                      const newError = () => (c.error && c.error.message !== before()?.error?.message ? c.error.message : '');
                      return (
                        <tr data-state={item.state} data-seq={item.seq}>
                          <td>{item.seq}</td>
                          <td title={dateTime(item.updatedAt)}>{clock(item.updatedAt)}</td>
                          <td>
                            <StateLabel state={item.removed ? 'removed' : item.state} actorId={item.id} at={offset} />
                          </td>
                          <td>{c.progress}%</td>
                          <td>{c.attempts}</td>
                          <td>{c.workerId ?? ''}</td>
                          <td>{newError()}</td>
                        </tr>
                      );
                    }}
                  </For>
                </tbody>
              </table>
            </section>
          </>
        )}
      </Show>
    </div>
  );
}
