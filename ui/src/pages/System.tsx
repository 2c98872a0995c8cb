/**
 * The system at a glance: one word for its health, every probe (state, latency over the last
 * minutes, last check, answer), the workers and machines by state, and the webhooks. All of it
 * is a function of the records and the hub's clock (see ../system.ts for what "last check" and
 * "stale" mean).
 */
import { For, Index, Show, createMemo } from 'solid-js';
import type { WebhookContext } from '../../../machines/webhook.js';
import type { ActorRecord } from '../../../src/protocol/record.js';
import { RecordTable, type Column } from '../components/RecordTable.js';
import { Sparkline } from '../components/Sparkline.js';
import { StateLabel } from '../components/StateBadge.js';
import { useHub } from '../context.js';
import { useNow } from '../clock.js';
import { ago, clock, plural } from '../format.js';
import { probeView, systemHealth, type Health, type ProbeView } from '../system.js';

/** How far back the latency lines reach. */
const SPARKLINE_WINDOW_MS = 5 * 60_000;

const HEALTH_WORDS: Record<Health, string> = { healthy: 'Healthy', degraded: 'Degraded', unhealthy: 'Unhealthy', unknown: 'Unknown' };
const WORKER_STATES = ['ready', 'busy', 'draining', 'stale', 'offline'] as const;
const MACHINE_STATES = ['starting', 'ready', 'offline'] as const;

const webhookContext = (webhook: ActorRecord) => webhook.snapshot.context as unknown as WebhookContext;

export function System() {
  const hub = useHub();
  const now = useNow();
  const probes = createMemo(() => (hub.probes(), hub.model.probes()).map((record) => probeView(record, now())));
  const presence = createMemo(() => (hub.topology(), hub.model.presence()));
  const health = createMemo(() => systemHealth(probes(), presence(), now()));
  const count = (states: Record<string, number>, state: string) => states[state] ?? 0;
  const total = (states: Record<string, number>) => Object.values(states).reduce((sum, n) => sum + n, 0);
  const webhooks = createMemo(() => (hub.webhooks(), hub.model.webhooks()));
  const lastRound = (webhook: ActorRecord) => {
    const last = webhookContext(webhook).last;
    return last ? `${last.ok ? 'ok' : 'failed'}${last.status === null ? '' : `, HTTP ${last.status}`}, ${ago(last.at, now())}` : '—';
  };
  const webhookColumns: Column[] = [
    { head: 'webhook', cell: (webhook) => webhookContext(webhook).description ?? webhookContext(webhook).url, title: (webhook) => webhook.id },
    { head: 'state', cell: (record) => <StateLabel state={record.state} actorId={record.id} /> },
    { head: 'delivered', cell: (webhook) => webhookContext(webhook).delivered },
    { head: 'last round', cell: lastRound },
    { head: 'detail', cell: (webhook) => webhookContext(webhook).reason ?? webhookContext(webhook).last?.error ?? webhookContext(webhook).url },
  ];

  return (
    <div class="page system">
      <section class={`panel health state-${health().health}`} data-health={health().health} aria-label="system health" aria-live="polite">
        <h2>{HEALTH_WORDS[health().health]}</h2>
        <Show
          when={health().reasons.length > 0}
          fallback={
            <p>
              {plural(probes().length, 'probe')} healthy · {count(presence().workers, 'ready')} ready and {count(presence().workers, 'busy')} busy of{' '}
              {plural(total(presence().workers), 'worker')}
            </p>
          }
        >
          <ul class="reasons">
            <For each={health().reasons}>{(reason) => <li>{reason}</li>}</For>
          </ul>
        </Show>
      </section>

      <div class="system-grid">
        <section class="panel">
          <h2>Probes</h2>
          <Show when={probes().length > 0} fallback={<p class="empty">No probe reports: this hub runs no probes.</p>}>
            <table class="probes">
              <thead>
                <tr>
                  <th>probe</th>
                  <th>state</th>
                  <th>latency</th>
                  <th>last {SPARKLINE_WINDOW_MS / 60_000} min</th>
                  <th>last check</th>
                  <th>answer</th>
                </tr>
              </thead>
              <tbody>
                <Index each={probes()}>{(probe) => <ProbeRow probe={probe()} now={now()} />}</Index>
              </tbody>
            </table>
          </Show>
        </section>

        <section class="panel presence" aria-label="workers and machines">
          <h2>Workers</h2>
          <Counts kind="worker" states={WORKER_STATES} counts={presence().workers} />
          <h2>Machines</h2>
          <Counts kind="machine" states={MACHINE_STATES} counts={presence().machines} />
        </section>
      </div>

      <section class="panel">
        <h2>Webhooks</h2>
        <RecordTable class="webhooks" records={webhooks()} columns={webhookColumns} empty="No webhooks: POST /api/webhooks registers one (see the README)." />
      </section>
    </div>
  );
}

/** How many live actors of `kind` are in each of `states`, in the states' colours. */
function Counts(props: { kind: string; states: readonly string[]; counts: Record<string, number> }) {
  return (
    <div class="counts">
      <For each={props.states}>
        {(state) => (
          <span class={`count-tile state-${state}`} data-kind={props.kind} data-state={state}>
            <strong>{props.counts[state] ?? 0}</strong> {state}
          </span>
        )}
      </For>
    </div>
  );
}

function ProbeRow(props: { probe: ProbeView; now: number }) {
  const context = () => props.probe.context;
  const lastCheck = () => (props.probe.lastCheckAt === undefined ? undefined : new Date(props.probe.lastCheckAt).toISOString());
  // Stale, or moved to unknown by a hub when no record came: either way nobody checks it now.
  const stopped = () => props.probe.stale || props.probe.record.state === 'unknown';
  const lastCheckTip = () => {
    const recorded = context().checkedAt;
    if (!recorded) return 'not checked yet';
    const interval = `${(context().intervalMs ?? 0) / 1_000} s`;
    return stopped()
      ? `Last check recorded at ${clock(recorded)}. No record has come since: its checks stopped (no hub runs them, or its store does not answer).`
      : `Checked every ${interval}; this is the last check due, and it had the recorded outcome (another would have been recorded). Last recorded check: ${clock(recorded)}; a new record comes at least every ${(context().reportEveryMs ?? 0) / 1_000} s, and without one this probe reads unknown after ${clock(context().freshUntil ?? recorded)}.`;
  };
  return (
    <tr data-id={props.probe.id} data-state={props.probe.state} data-stale={props.probe.stale ? 'true' : 'false'}>
      <td>
        <code>{props.probe.id}</code>
        {/* The target says more than the id only when it names a user (ids leave credentials out). */}
        <Show when={context().target && `probe:${context().target}` !== props.probe.id}>
          <div class="muted target">{context().target}</div>
        </Show>
      </td>
      <td>
        <StateLabel state={props.probe.state} actorId={props.probe.id} />
        <Show when={props.probe.stale}>
          <div class="muted">was {props.probe.record.state}</div>
        </Show>
      </td>
      <td class="latency">{context().latencyMs != null ? `${context().latencyMs} ms` : '—'}</td>
      <td>
        <Sparkline samples={context().samples ?? []} now={props.now} windowMs={SPARKLINE_WINDOW_MS} holds={!props.probe.stale && props.probe.state !== 'unknown'} reportEveryMs={context().reportEveryMs ?? 0} />
      </td>
      <td class="last-check" tabindex="0" data-tip={lastCheckTip()}>
        <Show when={lastCheck()} fallback="never">
          {stopped() ? `last check ${ago(lastCheck(), props.now)} · checks stopped` : `checked ${ago(lastCheck(), props.now)}`}
        </Show>
      </td>
      <td class="answer">
        {context().message ?? ''}
        <Show when={(context().failures ?? 0) > 1}>
          <span class="muted"> · {plural(context().failures ?? 0, 'failed check')} in a row</span>
        </Show>
      </td>
    </tr>
  );
}
