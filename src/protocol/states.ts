/**
 * Each kind's top-level states as CONTRACT.md names them, and records typed by kind: what hooks
 * hand to `hub.on('job', ...)` and what /metrics lists a zero for when no actor is in a state.
 */
import type { ConnectorContext } from '../../machines/connector.js';
import type { JobContext } from '../../machines/job.js';
import type { HostContext } from '../../machines/machine.js';
import type { ProbeContext } from '../../machines/probe.js';
import type { WebhookContext } from '../../machines/webhook.js';
import type { WorkerContext } from '../../machines/worker.js';
import type { ActorRecord, Kind, PersistedSnapshot } from './record.js';

export type { ProbeContext };

export const STATES = {
  machine: ['starting', 'ready', 'offline'],
  worker: ['ready', 'busy', 'draining', 'stale', 'offline'],
  connector: ['starting', 'idle', 'active', 'error', 'stopped', 'offline'],
  job: ['pending', 'assigned', 'running', 'retrying', 'completed', 'failed', 'cancelled'],
  probe: ['unknown', 'healthy', 'degraded', 'unhealthy'],
  webhook: ['active', 'delivering', 'retrying', 'paused'],
} as const satisfies Record<Kind, readonly string[]>;

export type StateOf<K extends Kind> = (typeof STATES)[K][number];

/** The context of each kind's records: its machine's context. */
export interface Contexts {
  machine: HostContext;
  worker: WorkerContext;
  connector: ConnectorContext;
  job: JobContext;
  probe: ProbeContext;
  webhook: WebhookContext;
}

/** A record of kind `K`: its state one of K's, its snapshot's context K's machine context. */
export type RecordOf<K extends Kind> = ActorRecord & {
  kind: K;
  state: StateOf<K>;
  snapshot: PersistedSnapshot & { context: Contexts[K] };
};
