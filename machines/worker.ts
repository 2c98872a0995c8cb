/**
 * A worker: one process on a machine, embedding connectors. The hub runs this machine from the
 * worker's registration, heartbeats and leaving; its record is what monitors show.
 *
 *   ready <──LEASES──> busy          (busy while it holds at least one job)
 *     │ DRAIN            │ DRAIN
 *     v                  v
 *   draining  (finishes its jobs, takes no new ones)
 *   ready / busy / draining ──no HEARTBEAT for staleAfterMs──> stale ──offlineAfterMs──> offline
 *   any ──LEAVE (its current session, closed on purpose)──> offline
 *   any ──REGISTER (a new session)──> ready   (whatever the old session held is given up first)
 *   ready / busy / draining ──REGISTER (the same session, resumed)──> the same state
 *
 * A session outlives its connections: a worker whose connection dropped (a hub restarted, a
 * network cut) registers again with its session and keeps its state and its leases. Only the
 * heartbeat window decides that a worker is gone, so the lease of a job is exactly that window.
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
  /** The worker's session: it survives reconnections; a registration with another one replaces it. */
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
  /** The worker closed this session on purpose (it stopped). A dropped connection is not this: it is silence, and the heartbeat window judges it. */
  | { type: 'LEAVE'; sessionId: string };

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
        LEAVE: { guard: 'isCurrentSession', target: 'offline' },
        REGISTER: [
          // Its session resumed (a reconnection): it keeps what it holds, and the heartbeat window starts over.
          { guard: 'isCurrentSession', target: 'ready', reenter: true, actions: 'register' },
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
        LEAVE: { guard: 'isCurrentSession', target: 'offline' },
        REGISTER: [
          // Its session resumed (a reconnection): it keeps what it holds, and the heartbeat window starts over.
          { guard: 'isCurrentSession', target: 'busy', reenter: true, actions: 'register' },
          { target: 'ready', reenter: true, actions: [{ type: 'workerLost', params: lost }, 'register'] },
        ],
      },
    },
    draining: {
      after: { staleAfter: 'stale' },
      on: {
        HEARTBEAT: { target: 'draining', reenter: true },
        LEAVE: { guard: 'isCurrentSession', target: 'offline' },
        REGISTER: [
          // Its session resumed (a reconnection): it keeps what it holds, and the heartbeat window starts over.
          { guard: 'isCurrentSession', target: 'draining', reenter: true, actions: 'register' },
          { target: 'ready', reenter: true, actions: [{ type: 'workerLost', params: lost }, 'register'] },
        ],
      },
    },
    stale: {
      entry: { type: 'workerLost', params: lost },
      after: { offlineAfter: 'offline' },
      // Its leases are gone: whatever it registers with is a new session.
      on: { REGISTER: { target: 'ready', actions: 'register' }, LEAVE: { guard: 'isCurrentSession', target: 'offline' } },
    },
    offline: {
      // Coming from stale, the leases are already gone; performing it again finds nothing.
      entry: { type: 'workerLost', params: lost },
      on: { REGISTER: { target: 'ready', actions: 'register' } },
    },
  },
});

export type WorkerMachine = typeof workerMachine;
