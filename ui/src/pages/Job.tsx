/** One job: what it is, how it went, every transition with its time; cancel from here. */
import { A, useParams } from '@solidjs/router';
import { fromActorRef } from '@xstate/solid';
import type { AnyActorRef } from 'xstate';
import { For, Show, createEffect, createMemo, createResource, createSignal, on } from 'solid-js';
import type { ActorRecord, LogEntry } from '../../../src/protocol/record.js';
import { ProgressBar } from '../components/ProgressBar.js';
import { StateLabel } from '../components/StateBadge.js';
import { useHub } from '../context.js';
import { clock, prettyJson } from '../format.js';

const FINAL = new Set(['completed', 'failed', 'cancelled']);

interface JobContext {
  type: string;
  payload: unknown;
  priority: number;
  attempts: number;
  maxAttempts: number;
  progress: number;
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
  // The live record, as the stream changes it (undefined once the job left the live set).
  const live = fromActorRef(() => hub.actor(id()) as unknown as AnyActorRef) as unknown as () => ActorRecord | undefined;
  const [stored] = createResource(id, (jobId) => hub.api<ActorRecord>(`/api/jobs/${encodeURIComponent(jobId)}`));
  const [history] = createResource(id, (jobId) => hub.api<{ entries: LogEntry[] }>(`/api/jobs/${encodeURIComponent(jobId)}/history`));
  const record = () => live() ?? stored();
  const context = () => record()?.snapshot.context as unknown as JobContext | undefined;
  /** The history read once, then every record the stream brought since. */
  const [seen, setSeen] = createSignal<ActorRecord[]>([]);
  createEffect(on(id, () => setSeen([])));
  createEffect(() => {
    const current = live();
    if (current) setSeen((list) => (list.at(-1)?.seq === current.seq ? list : [...list, current]));
  });
  const transitions = createMemo(() => {
    const fromHistory = history()?.entries.map((entry) => entry.record) ?? [];
    const last = fromHistory.at(-1)?.seq ?? 0;
    return [...fromHistory, ...seen().filter((item) => item.seq > last)];
  });
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
              <StateLabel state={job().state} />
              <Show when={!FINAL.has(job().state)}>
                <button class="danger" onClick={cancel}>
                  Cancel job
                </button>
              </Show>
              <Show when={job().removed}>
                <span class="muted">(no longer in the live set)</span>
              </Show>
            </header>
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
                <ProgressBar value={context()?.progress ?? 0} state={job().state} />
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
              <dd title={context()?.createdAt}>{context()?.createdAt}</dd>
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
                  <For each={transitions()}>
                    {(item) => {
                      const c = item.snapshot.context as unknown as JobContext;
                      return (
                        <tr data-state={item.state}>
                          <td>{item.seq}</td>
                          <td title={item.updatedAt}>{clock(item.updatedAt)}</td>
                          <td>
                            <StateLabel state={item.removed ? 'removed' : item.state} />
                          </td>
                          <td>{c.progress}%</td>
                          <td>{c.attempts}</td>
                          <td>{c.workerId ?? ''}</td>
                          <td>{c.error?.message ?? ''}</td>
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
