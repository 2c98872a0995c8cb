/** Infrastructure probes (the store, configured services): whatever probe records the hub has. */
import { For, Show, createMemo } from 'solid-js';
import { StateLabel } from '../components/StateBadge.js';
import { useHub } from '../context.js';
import { useNow } from '../clock.js';
import { ago } from '../format.js';

export function System() {
  const hub = useHub();
  const now = useNow();
  const probes = createMemo(() => (hub.probes(), hub.model.probes()));
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
                        <StateLabel state={probe.state} actorId={probe.id} />
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
    </div>
  );
}
