/**
 * A worker: one process on a machine, embedding connectors. The hub runs this machine from the
 * worker's registration, heartbeats and disconnection; its record is what monitors show.
 *
 *   ready <──LEASES──> busy          (busy while it holds at least one job)
 *     │ DRAIN            │ DRAIN
 *     v                  v
 *   draining  (finishes its jobs, takes no new ones)
 *   ready / busy / draining ──no HEARTBEAT for staleAfterMs──> stale ──offlineAfterMs──> offline
 *   any ──DISCONNECT (of its current session)──> offline
 *   any ──REGISTER (a new session)──> ready   (whatever the old session held is given up first)
 *
 * Going stale or offline performs `workerLost`: in the same atomic step the hub revokes the
 * worker's job leases (its jobs are retried elsewhere) and marks its connectors offline, so
 * nothing keeps showing `active` for a worker that is gone.
 */
import { assign, not, setup } from 'xstate';
import type { Json } from './json.js';

/** What a worker offers, matched against job requirements. */
export type Capabilities = Record<string, Json>;

export interface WorkerTimings {
  heartbeatMs: number;
  staleAfterMs: number;
  offlineAfterMs: number;
}

export const WORKER_TIMING_DEFAULTS: WorkerTimings = {
  heartbeatMs: 1_000,
  staleAfterMs: 3_000,
  offlineAfterMs: 10_000,
};

export interface WorkerRegistration {
  /** One connection of the worker; a later registration replaces it. */
  sessionId: string;
  machineId: string;
  capabilities: Capabilities;
  connectorIds: string[];
}

export interface WorkerInput extends WorkerRegistration {
  id: string;
  timings?: Partial<WorkerTimings>;
}

export interface WorkerContext extends WorkerRegistration, WorkerTimings {
  id: string;
}

export type WorkerEvent =
  | ({ type: 'REGISTER' } & WorkerRegistration)
  | { type: 'HEARTBEAT' }
  /** How many jobs the worker holds now; only the change between none and some is recorded. */
  | { type: 'LEASES'; count: number }
  | { type: 'DRAIN' }
  | { type: 'DISCONNECT'; sessionId: string };

/** Params of the `workerLost` effect: who is gone and which connectors went with it. */
export interface WorkerLost {
  workerId: string;
  connectorIds: string[];
}

const lost = ({ context }: { context: WorkerContext }): WorkerLost => ({ workerId: context.id, connectorIds: context.connectorIds });

export const workerMachine = setup({
  types: {
    context: {} as WorkerContext,
    events: {} as WorkerEvent,
    input: {} as WorkerInput,
  },
  delays: {
    staleAfter: ({ context }) => context.staleAfterMs,
    offlineAfter: ({ context }) => context.offlineAfterMs,
  },
  guards: {
    holdsJobs: ({ event }) => event.type === 'LEASES' && event.count > 0,
    isCurrentSession: ({ context, event }) => 'sessionId' in event && event.sessionId === context.sessionId,
  },
  actions: {
    /** Effect: revoke this worker's leases and mark its connectors offline, in the same step. */
    workerLost: (_, _params: WorkerLost) => {},
    register: assign(({ event }) =>
      event.type === 'REGISTER'
        ? { sessionId: event.sessionId, machineId: event.machineId, capabilities: event.capabilities, connectorIds: event.connectorIds }
        : {},
    ),
  },
}).createMachine({
  id: 'worker',
  context: ({ input }) => ({
    id: input.id,
    sessionId: input.sessionId,
    machineId: input.machineId,
    capabilities: input.capabilities,
    connectorIds: input.connectorIds,
    ...WORKER_TIMING_DEFAULTS,
    ...input.timings,
  }),
  initial: 'ready',
  states: {
    ready: {
      after: { staleAfter: 'stale' },
      on: {
        HEARTBEAT: { target: 'ready', reenter: true },
        LEASES: { guard: 'holdsJobs', target: 'busy' },
        DRAIN: 'draining',
        DISCONNECT: { guard: 'isCurrentSession', target: 'offline' },
        REGISTER: [
          // The same connection registering again (a retry) changes nothing it holds.
          { guard: 'isCurrentSession', actions: 'register' },
          { target: 'ready', reenter: true, actions: [{ type: 'workerLost', params: lost }, 'register'] },
        ],
      },
    },
    busy: {
      after: { staleAfter: 'stale' },
      on: {
        HEARTBEAT: { target: 'busy', reenter: true },
        LEASES: { guard: not('holdsJobs'), target: 'ready' },
        DRAIN: 'draining',
        DISCONNECT: { guard: 'isCurrentSession', target: 'offline' },
        REGISTER: [
          // The same connection registering again (a retry) changes nothing it holds.
          { guard: 'isCurrentSession', actions: 'register' },
          { target: 'ready', reenter: true, actions: [{ type: 'workerLost', params: lost }, 'register'] },
        ],
      },
    },
    draining: {
      after: { staleAfter: 'stale' },
      on: {
        HEARTBEAT: { target: 'draining', reenter: true },
        DISCONNECT: { guard: 'isCurrentSession', target: 'offline' },
        REGISTER: [
          // The same connection registering again (a retry) changes nothing it holds.
          { guard: 'isCurrentSession', actions: 'register' },
          { target: 'ready', reenter: true, actions: [{ type: 'workerLost', params: lost }, 'register'] },
        ],
      },
    },
    stale: {
      entry: { type: 'workerLost', params: lost },
      after: { offlineAfter: 'offline' },
      on: { REGISTER: { target: 'ready', actions: 'register' }, DISCONNECT: { guard: 'isCurrentSession', target: 'offline' } },
    },
    offline: {
      // Coming from stale, the leases are already gone; performing it again finds nothing.
      entry: { type: 'workerLost', params: lost },
      on: { REGISTER: { target: 'ready', actions: 'register' } },
    },
  },
});

export type WorkerMachine = typeof workerMachine;
