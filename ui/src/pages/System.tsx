/** Infrastructure probes (the store, configured services) and webhooks: whatever records of theirs the hub has. */
import { createMemo } from 'solid-js';
import type { WebhookContext } from '../../../machines/webhook.js';
import type { ActorRecord } from '../../../src/protocol/record.js';
import { RecordTable, type Column } from '../components/RecordTable.js';
import { StateLabel } from '../components/StateBadge.js';
import { useHub } from '../context.js';
import { useNow } from '../clock.js';
import { ago } from '../format.js';

type ProbeContext = { latencyMs?: number | null; checkedAt?: string; error?: { message: string } | null; target?: string };
const probeContext = (probe: ActorRecord) => probe.snapshot.context as ProbeContext;
const webhookContext = (webhook: ActorRecord) => webhook.snapshot.context as unknown as WebhookContext;
const state: Column = { head: 'state', cell: (record) => <StateLabel state={record.state} actorId={record.id} /> };

export function System() {
  const hub = useHub();
  const now = useNow();
  const probes = createMemo(() => (hub.probes(), hub.model.probes()));
  const webhooks = createMemo(() => (hub.webhooks(), hub.model.webhooks()));
  const probeColumns: Column[] = [
    { head: 'probe', cell: (probe) => probe.id },
    state,
    { head: 'latency', cell: (probe) => (probeContext(probe).latencyMs != null ? `${probeContext(probe).latencyMs} ms` : '—') },
    { head: 'last check', cell: (probe) => ago(probeContext(probe).checkedAt ?? probe.updatedAt, now()) },
    { head: 'detail', cell: (probe) => probeContext(probe).error?.message ?? probeContext(probe).target ?? '' },
  ];
  const lastRound = (webhook: ActorRecord) => {
    const last = webhookContext(webhook).last;
    return last ? `${last.ok ? 'ok' : 'failed'}${last.status === null ? '' : `, HTTP ${last.status}`}, ${ago(last.at, now())}` : '—';
  };
  const webhookColumns: Column[] = [
    { head: 'webhook', cell: (webhook) => webhookContext(webhook).description ?? webhookContext(webhook).url, title: (webhook) => webhook.id },
    state,
    { head: 'delivered', cell: (webhook) => webhookContext(webhook).delivered },
    { head: 'last round', cell: lastRound },
    { head: 'detail', cell: (webhook) => webhookContext(webhook).reason ?? webhookContext(webhook).last?.error ?? webhookContext(webhook).url },
  ];
  return (
    <div class="page system">
      <section class="panel">
        <h2>System</h2>
        <RecordTable class="probes" records={probes()} columns={probeColumns} empty="No probe reports yet: this hub runs no infrastructure probes." />
      </section>
      <section class="panel">
        <h2>Webhooks</h2>
        <RecordTable class="webhooks" records={webhooks()} columns={webhookColumns} empty="No webhooks: POST /api/webhooks registers one (see the README)." />
      </section>
    </div>
  );
}
