/**
 * Each kind's top-level states as CONTRACT.md names them, and records typed by kind: what hooks
 * hand to `hub.on('job', ...)` and what /metrics lists a zero for when no actor is in a state.
 */
import type { ConnectorContext } from '../../machines/connector.js';
import type { JobContext } from '../../machines/job.js';
import type { HostContext } from '../../machines/machine.js';
import type { WorkerContext } from '../../machines/worker.js';
import type { ActorRecord, Kind, PersistedSnapshot } from './record.js';

export const STATES = {
  machine: ['starting', 'ready', 'offline'],
  worker: ['ready', 'busy', 'draining', 'stale', 'offline'],
  connector: ['starting', 'idle', 'active', 'error', 'stopped', 'offline'],
  job: ['pending', 'assigned', 'running', 'retrying', 'completed', 'failed', 'cancelled'],
  probe: ['unknown', 'healthy', 'degraded', 'unhealthy'],
} as const satisfies Record<Kind, readonly string[]>;

export type StateOf<K extends Kind> = (typeof STATES)[K][number];

/**
 * A probe's context as far as statehub reads it (probes check a dependency and report its
 * latency); the rest is the probe machine's own.
 */
export interface ProbeContext {
  /** The last check's round trip, in ms; null or absent when it did not answer. */
  latencyMs?: number | null;
  [field: string]: unknown;
}

/** The context of each kind's records: its machine's context. */
export interface Contexts {
  machine: HostContext;
  worker: WorkerContext;
  connector: ConnectorContext;
  job: JobContext;
  probe: ProbeContext;
}

/** A record of kind `K`: its state one of K's, its snapshot's context K's machine context. */
export type RecordOf<K extends Kind> = ActorRecord & {
  kind: K;
  state: StateOf<K>;
  snapshot: PersistedSnapshot & { context: Contexts[K] };
};
