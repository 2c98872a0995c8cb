/**
 * A connector: one adapter from a worker to a service (a simulator, an HTTP model server,
 * ComfyUI...). It runs one job at a time.
 *
 *   starting ──healthy──> idle ──ASSIGN──> active ──done / job failed──> idle
 *      ^   └──unhealthy──> error <──service fault────┘      └──CANCEL──> idle (work aborted)
 *      └────── backoff ─────┘
 *   STOP from anywhere ──> stopped ──START──> starting
 *   WORKER_LOST from anywhere ──> offline   (set by the hub when the worker's heartbeats stop)
 *
 * While idle, a connector with a health interval re-checks its service (idle.checking) and
 * goes to error when it stopped answering.
 *
 * The connector runs inside the worker process. The worker SDK provides the two actors,
 * `checkHealth` and `runJob`, and the `report*` actions that tell the hub about jobs; this file
 * does no I/O. The hub only ever computes `WORKER_LOST` with XState's pure `transition()`.
 */
import { assign, fromCallback, fromPromise, setup } from 'xstate';
import { NEVER, toErrorInfo, type ErrorInfo, type Json } from './json.js';

export interface ConnectorInput {
  id: string;
  type: string;
  /** Re-check the service this often while idle; null never re-checks. */
  healthIntervalMs?: number | null;
  /** First wait in `error` before starting again; doubles per consecutive failure, up to MAX_RESTART_DELAY_MS. */
  restartDelayMs?: number;
}

export interface ConnectorContext {
  id: string;
  type: string;
  /** The job being run, while active. */
  jobId: string | null;
  /** Last health check's round trip, when the service reports one. */
  latencyMs: number | null;
  /** Why the connector is (or last was) in error. */
  error: ErrorInfo | null;
  /**
   * What its service offers, as its last health check found it (models installed, VRAM...):
   * matched against job requirements with its worker's capabilities, over which it wins.
   */
  capabilities: Record<string, Json>;
  /** Consecutive failed starts, for the restart backoff. */
  failures: number;
  jobsDone: number;
  healthIntervalMs: number | null;
  restartDelayMs: number;
}

/** What `checkHealth` resolves with. */
export interface HealthReport {
  latencyMs?: number | null;
  /** What the service offers now; absent keeps what the last check found. */
  capabilities?: Record<string, Json>;
}

/** The job a worker hands to `runJob`: only its id travels in the snapshot, the rest stays in the worker. */
export interface RunJobInput {
  jobId: string;
}

/** Events `runJob` sends back while it works. */
export type RunJobEvent =
  | { type: 'PROGRESS'; progress: number; message?: string }
  | { type: 'JOB_DONE'; result: Json }
  /**
   * `serviceFault`: the service itself is broken (the connector restarts). `permanent`: trying the
   * job again cannot help (bad input, content refused, auth), so it skips its remaining attempts.
   */
  | { type: 'JOB_FAILED'; error: ErrorInfo; serviceFault: boolean; permanent?: boolean };

export type ConnectorEvent =
  | { type: 'ASSIGN'; jobId: string }
  | { type: 'CANCEL'; jobId: string }
  | { type: 'STOP' }
  | { type: 'START' }
  | { type: 'WORKER_LOST' }
  | RunJobEvent;

export const MAX_RESTART_DELAY_MS = 30_000;

export function restartDelay(context: Pick<ConnectorContext, 'failures' | 'restartDelayMs'>): number {
  return Math.min(context.restartDelayMs * 2 ** Math.max(0, context.failures - 1), MAX_RESTART_DELAY_MS);
}

export const connectorMachine = setup({
  types: {
    context: {} as ConnectorContext,
    events: {} as ConnectorEvent,
    input: {} as ConnectorInput,
  },
  actors: {
    /** Provided by the connector: resolves when the service answers, rejects when it does not. */
    checkHealth: fromPromise<HealthReport>(async () => ({})),
    /** Provided by the worker: runs the job, sends PROGRESS, then JOB_DONE or JOB_FAILED; aborts on stop. */
    runJob: fromCallback<RunJobEvent, RunJobInput>(() => {}),
  },
  delays: {
    healthInterval: ({ context }) => context.healthIntervalMs ?? NEVER,
    restartDelay: ({ context }) => restartDelay(context),
  },
  guards: {
    isCurrentJob: ({ context, event }) => 'jobId' in event && event.jobId === context.jobId,
    isServiceFault: ({ event }) => event.type === 'JOB_FAILED' && event.serviceFault,
  },
  actions: {
    /** Effects, provided by the worker SDK: tell the hub how the current job went. */
    reportProgress: (_, _params: { jobId: string | null; progress: number; message?: string }) => {},
    reportDone: (_, _params: { jobId: string | null; result: Json }) => {},
    reportFailed: (_, _params: { jobId: string | null; error: ErrorInfo; permanent: boolean }) => {},
    recordHealth: assign({
      latencyMs: ({ context }, params: HealthReport) => params.latencyMs ?? context.latencyMs,
      capabilities: ({ context }, params: HealthReport) => params.capabilities ?? context.capabilities,
      failures: 0,
      error: null,
    }),
    recordFault: assign({
      error: (_, params: { error: ErrorInfo }) => params.error,
      failures: ({ context }) => context.failures + 1,
    }),
    clearJob: assign({ jobId: null }),
  },
}).createMachine({
  id: 'connector',
  context: ({ input }) => ({
    id: input.id,
    type: input.type,
    jobId: null,
    latencyMs: null,
    error: null,
    capabilities: {},
    failures: 0,
    jobsDone: 0,
    healthIntervalMs: input.healthIntervalMs ?? null,
    restartDelayMs: input.restartDelayMs ?? 1_000,
  }),
  initial: 'starting',
  on: {
    STOP: { target: '.stopped', actions: 'clearJob' },
    WORKER_LOST: { target: '.offline', actions: 'clearJob' },
  },
  states: {
    starting: {
      invoke: {
        src: 'checkHealth',
        onDone: { target: 'idle', actions: { type: 'recordHealth', params: ({ event }) => event.output } },
        onError: { target: 'error', actions: { type: 'recordFault', params: ({ event }) => ({ error: toErrorInfo(event.error) }) } },
      },
    },
    idle: {
      initial: 'ready',
      on: {
        ASSIGN: { target: 'active', actions: assign({ jobId: ({ event }) => event.jobId }) },
      },
      states: {
        ready: {
          after: { healthInterval: 'checking' },
        },
        checking: {
          invoke: {
            src: 'checkHealth',
            onDone: { target: 'ready', actions: { type: 'recordHealth', params: ({ event }) => event.output } },
            onError: {
              target: '#connector.error',
              actions: { type: 'recordFault', params: ({ event }) => ({ error: toErrorInfo(event.error) }) },
            },
          },
        },
      },
    },
    active: {
      invoke: {
        src: 'runJob',
        input: ({ context }) => ({ jobId: context.jobId ?? '' }),
      },
      on: {
        PROGRESS: {
          actions: {
            type: 'reportProgress',
            params: ({ context, event }) => ({ jobId: context.jobId, progress: event.progress, ...(event.message === undefined ? {} : { message: event.message }) }),
          },
        },
        JOB_DONE: {
          target: 'idle',
          actions: [
            { type: 'reportDone', params: ({ context, event }) => ({ jobId: context.jobId, result: event.result }) },
            assign({ jobsDone: ({ context }) => context.jobsDone + 1 }),
            'clearJob',
          ],
        },
        JOB_FAILED: [
          {
            // The service itself broke: the job fails this attempt and the connector restarts.
            guard: 'isServiceFault',
            target: 'error',
            actions: [
              { type: 'reportFailed', params: ({ context, event }) => ({ jobId: context.jobId, error: event.error, permanent: event.permanent === true }) },
              { type: 'recordFault', params: ({ event }) => ({ error: event.error }) },
              'clearJob',
            ],
          },
          {
            target: 'idle',
            actions: [
              { type: 'reportFailed', params: ({ context, event }) => ({ jobId: context.jobId, error: event.error, permanent: event.permanent === true }) },
              'clearJob',
            ],
          },
        ],
        // Leaving `active` stops `runJob`, which aborts the work's AbortSignal.
        CANCEL: { guard: 'isCurrentJob', target: 'idle', actions: 'clearJob' },
      },
    },
    error: {
      after: { restartDelay: 'starting' },
    },
    stopped: {
      on: { START: 'starting' },
    },
    offline: {},
  },
});

export type ConnectorMachine = typeof connectorMachine;
