/** Infrastructure probes (the store, configured services) and webhooks: whatever records of theirs the hub has. */
import { For, Show, createMemo } from 'solid-js';
import type { WebhookContext } from '../../../machines/webhook.js';
import { StateLabel } from '../components/StateBadge.js';
import { useHub } from '../context.js';
import { useNow } from '../clock.js';
import { ago } from '../format.js';

export function System() {
  const hub = useHub();
  const now = useNow();
  const probes = createMemo(() => (hub.probes(), hub.model.probes()));
  const webhooks = createMemo(() => (hub.webhooks(), hub.model.webhooks()));
  return (
    <div class="page system">
      <section class="panel">
        <h2>System</h2>
        <Show when={probes().length > 0} fallback={<p class="empty">No probe reports yet: this hub runs no infrastructure probes.</p>}>
          <table class="probes">
            <thead>
              <tr>
                <th>probe</th>
                <th>state</th>
                <th>latency</th>
                <th>last check</th>
                <th>detail</th>
              </tr>
            </thead>
            <tbody>
              <For each={probes()}>
                {(probe) => {
                  const context = () => probe.snapshot.context as { latencyMs?: number | null; checkedAt?: string; error?: { message: string } | null; target?: string };
                  return (
                    <tr data-id={probe.id}>
                      <td>{probe.id}</td>
                      <td>
                        <StateLabel state={probe.state} />
                      </td>
                      <td>{context().latencyMs != null ? `${context().latencyMs} ms` : '—'}</td>
                      <td>{ago(context().checkedAt ?? probe.updatedAt, now())}</td>
                      <td>{context().error?.message ?? context().target ?? ''}</td>
                    </tr>
                  );
                }}
              </For>
            </tbody>
          </table>
        </Show>
      </section>
      <section class="panel">
        <h2>Webhooks</h2>
        <Show when={webhooks().length > 0} fallback={<p class="empty">No webhooks: POST /api/webhooks registers one (see the README).</p>}>
          <table class="webhooks">
            <thead>
              <tr>
                <th>webhook</th>
                <th>state</th>
                <th>delivered</th>
                <th>last round</th>
                <th>detail</th>
              </tr>
            </thead>
            <tbody>
              <For each={webhooks()}>
                {(webhook) => {
                  const context = () => webhook.snapshot.context as unknown as WebhookContext;
                  const last = () => context().last;
                  return (
                    <tr data-id={webhook.id}>
                      <td title={webhook.id}>{context().description ?? context().url}</td>
                      <td>
                        <StateLabel state={webhook.state} />
                      </td>
                      <td>{context().delivered}</td>
                      <td>{last() ? `${last()!.ok ? 'ok' : 'failed'}${last()!.status !== null ? `, HTTP ${last()!.status}` : ''}, ${ago(last()!.at, now())}` : '—'}</td>
                      <td>{context().reason ?? last()?.error ?? context().url}</td>
                    </tr>
                  );
                }}
              </For>
            </tbody>
          </table>
        </Show>
      </section>
    </div>
  );
}
