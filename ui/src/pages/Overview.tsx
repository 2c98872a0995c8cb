/** The overview: job counts, throughput, warnings that need a person, and every machine. */
import { A } from '@solidjs/router';
import { For, Index, Show, createEffect, createMemo, createResource, on, onCleanup } from 'solid-js';
import { MachineCard } from '../components/MachineCard.js';
import { ThroughputChart, type Bucket } from '../components/ThroughputChart.js';
import { useHub } from '../context.js';
import { useNow } from '../clock.js';
import { JOB_STATES, jobField } from '../model.js';
import { plural } from '../format.js';

export function Overview() {
  const hub = useHub();
  const now = useNow();
  const counts = createMemo(() => (hub.jobs(), hub.model.jobCounts()));
  const machines = createMemo(() => (hub.topology(), hub.model.machines()));
  const [throughput, { refetch }] = createResource(() => hub.api<{ bucketMs: number; buckets: Bucket[] }>('/api/throughput'));
  // Read again once a second while jobs change (so the chart keeps up with the tiles), and every 10 s
  // anyway (buckets slide out of the window).
  let pending: ReturnType<typeof setTimeout> | undefined;
  const soon = () => {
    pending ??= setTimeout(() => {
      pending = undefined;
      void refetch();
    }, 1_000);
  };
  createEffect(on(hub.jobs, soon, { defer: true }));
  const refresh = setInterval(() => void refetch(), 10_000);
  onCleanup(() => {
    clearInterval(refresh);
    clearTimeout(pending);
  });

  /** Types with pending jobs and no connector online to take them: the queue that only looks busy. */
  const unserved = createMemo(() => {
    hub.jobs();
    hub.topology();
    const served = new Set<string>();
    for (const group of hub.model.machines()) {
      for (const { worker, connectors } of group.workers) {
        if (worker.state !== 'ready' && worker.state !== 'busy') continue;
        for (const connector of connectors) if (!['offline', 'stopped', 'error'].includes(connector.state)) served.add(String(connector.snapshot.context.type));
      }
    }
    const waiting = new Map<string, number>();
    for (const job of hub.model.jobs({ states: ['pending'] })) {
      const type = String(jobField(job, 'type'));
      if (!served.has(type)) waiting.set(type, (waiting.get(type) ?? 0) + 1);
    }
    return [...waiting];
  });

  return (
    <div class="page overview">
      <section class="tiles" aria-label="jobs by state">
        <For each={JOB_STATES}>
          {(state) => (
            <A class={`tile state-${state}`} href={`/jobs?state=${state}`} data-state={state}>
              <span class="count">{counts()[state].toLocaleString()}</span>
              <span class="name">{state}</span>
            </A>
          )}
        </For>
      </section>

      <Show when={unserved().length > 0}>
        <div class="alert" role="alert">
          <For each={unserved()}>
            {([type, count]) => (
              <p>
                No connector online serves <strong>{type}</strong>: {plural(count, 'job')} waiting.
              </p>
            )}
          </For>
        </div>
      </Show>

      <section class="panel">
        <h2>Throughput</h2>
        <Show when={throughput()} fallback={<p class="muted">{throughput.error ? `cannot read throughput: ${throughput.error.message}` : 'loading…'}</p>}>
          {(data) => <ThroughputChart buckets={data().buckets} bucketMs={data().bucketMs} now={now()} />}
        </Show>
      </section>

      <section class="panel">
        <h2>Machines</h2>
        <Show
          when={machines().length > 0}
          fallback={
            <p class="empty">
              No machine has connected yet. Start a worker: <code>npx statehub worker --hub {location.origin} --connectors simulation:2</code>
            </p>
          }
        >
          <div class="machines">
            <Index each={machines()}>{(group) => <MachineCard group={group()} now={now()} />}</Index>
          </div>
        </Show>
      </section>
    </div>
  );
}
