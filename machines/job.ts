/**
 * A job: one unit of work submitted by a client and run by one connector at a time.
 *
 *   pending ──ASSIGN──> assigned ──START──> running ──COMPLETE──> completed
 *    ^   ^                 │                   │
 *    │   │                 ├─ FAIL (not retryable) ─┴────────────────────────> failed
 *    │   │                 └─────── FAIL, timeout ───> attempts left? ──no──> failed
 *    │   │                                              │ yes
 *    │   └── retrying (backoff) <───────────────────────┘
 *    │
 *    └── lease lost / not started in time (ack timeout), attempts left; else failed
 *        (from assigned or running: no backoff, the job is retried elsewhere at once)
 *   CANCEL from any unfinished state ──> cancelled
 *
 * The hub runs this machine with XState's pure `transition()`: the persisted snapshot in the
 * store *is* the job. Delays (`after`) become durable timers in the store. The actions named
 * below are effects the runner performs; this file does no I/O.
 *
 * Every attempt that a connector starts counts: `attempts` is incremented on ASSIGN, so a job
 * whose worker vanished mid-run has used that attempt (at-least-once, bounded by maxAttempts).
 */
import { assign, setup } from 'xstate';
import { NEVER, type ErrorInfo, type Json } from './json.js';

/** What a worker must offer to take the job: numbers are minimums, arrays must be contained, other values must match. */
export type Requirements = Record<string, Json>;

export interface JobInput {
  type: string;
  payload?: Json;
  priority?: number;
  requirements?: Requirements;
  maxAttempts?: number;
  /** Longest a single attempt may run; null for no limit. */
  timeoutMs?: number | null;
  /** First retry waits this long; each further retry doubles it, up to MAX_BACKOFF_MS. */
  backoffMs?: number;
  /** How long an assigned job waits for its worker to start it before the lease is given up. */
  ackTimeoutMs?: number;
  createdAt: string;
}

export interface JobContext {
  type: string;
  payload: Json;
  priority: number;
  requirements: Requirements;
  attempts: number;
  maxAttempts: number;
  timeoutMs: number | null;
  backoffMs: number;
  ackTimeoutMs: number;
  /** 0 to 100, reported by the connector running the current attempt. */
  progress: number;
  /** What the connector said with its last progress report ("node 3 of 7: KSampler"), or null. */
  progressMessage: string | null;
  /** The worker and connector holding the job now, or the last ones once it finished. */
  workerId: string | null;
  connectorId: string | null;
  result: Json;
  /** Why the last attempt failed (kept while retrying), or null. */
  error: ErrorInfo | null;
  createdAt: string;
}

export type JobEvent =
  | { type: 'ASSIGN'; workerId: string; connectorId: string }
  | { type: 'START' }
  | { type: 'PROGRESS'; progress: number; message?: string }
  | { type: 'COMPLETE'; result?: Json }
  /** `retryable: false`: trying again cannot help (e.g. a result over the size limit), so no attempt is left. */
  | { type: 'FAIL'; error: ErrorInfo; retryable?: boolean }
  | { type: 'LEASE_LOST'; reason: string }
  | { type: 'CANCEL'; reason?: string };

export const JOB_DEFAULTS = {
  priority: 0,
  maxAttempts: 3,
  backoffMs: 1_000,
  ackTimeoutMs: 10_000,
} as const;

export const MAX_BACKOFF_MS = 5 * 60_000;

export const JOB_FINAL_STATES = ['completed', 'failed', 'cancelled'] as const;

/** Backoff before retry number `attempts` (1-based): backoffMs, 2x, 4x ... capped. */
export function retryDelay(context: Pick<JobContext, 'attempts' | 'backoffMs'>): number {
  return Math.min(context.backoffMs * 2 ** Math.max(0, context.attempts - 1), MAX_BACKOFF_MS);
}

const clampProgress = (progress: number) => Math.min(100, Math.max(0, progress));

export const jobMachine = setup({
  types: {
    context: {} as JobContext,
    events: {} as JobEvent,
    input: {} as JobInput,
  },
  delays: {
    ackTimeout: ({ context }) => context.ackTimeoutMs,
    jobTimeout: ({ context }) => context.timeoutMs ?? NEVER,
    retryBackoff: ({ context }) => retryDelay(context),
  },
  guards: {
    hasAttemptsLeft: ({ context }) => context.attempts < context.maxAttempts,
    isPermanent: ({ event }) => event.type === 'FAIL' && event.retryable === false,
  },
  actions: {
    /**
     * Effect: the worker holding the lease must stop this job's work (its AbortSignal fires). The
     * hub performs it from the log: whichever hub holds that worker's connection sees the job leave it.
     */
    abortWork: (_, _params: { workerId: string | null; connectorId: string | null; reason: string }) => {},
    recordError: assign({ error: (_, params: { error: ErrorInfo }) => params.error }),
    releaseLease: assign({ workerId: null, connectorId: null, progress: 0, progressMessage: null }),
  },
}).createMachine({
  id: 'job',
  context: ({ input }) => ({
    type: input.type,
    payload: input.payload ?? null,
    priority: input.priority ?? JOB_DEFAULTS.priority,
    requirements: input.requirements ?? {},
    attempts: 0,
    maxAttempts: input.maxAttempts ?? JOB_DEFAULTS.maxAttempts,
    timeoutMs: input.timeoutMs ?? null,
    backoffMs: input.backoffMs ?? JOB_DEFAULTS.backoffMs,
    ackTimeoutMs: input.ackTimeoutMs ?? JOB_DEFAULTS.ackTimeoutMs,
    progress: 0,
    progressMessage: null,
    workerId: null,
    connectorId: null,
    result: null,
    error: null,
    createdAt: input.createdAt,
  }),
  initial: 'pending',
  states: {
    pending: {
      on: {
        ASSIGN: {
          target: 'assigned',
          actions: assign({
            attempts: ({ context }) => context.attempts + 1,
            workerId: ({ event }) => event.workerId,
            connectorId: ({ event }) => event.connectorId,
            progress: 0,
            progressMessage: null,
          }),
        },
        CANCEL: 'cancelled',
      },
    },
    assigned: {
      after: {
        ackTimeout: {
          target: 'leaseLost',
          actions: [
            { type: 'abortWork', params: ({ context }) => ({ ...lease(context), reason: 'not started in time' }) },
            { type: 'recordError', params: ({ context }) => ({ error: { message: `worker did not start the job within ${context.ackTimeoutMs} ms` } }) },
          ],
        },
      },
      on: {
        START: 'running',
        FAIL: [
          { guard: 'isPermanent', target: 'failed', actions: { type: 'recordError', params: ({ event }) => ({ error: event.error }) } },
          { target: 'attemptFailed', actions: { type: 'recordError', params: ({ event }) => ({ error: event.error }) } },
        ],
        LEASE_LOST: { target: 'leaseLost', actions: { type: 'recordError', params: ({ event }) => ({ error: { message: event.reason } }) } },
        CANCEL: {
          target: 'cancelled',
          actions: { type: 'abortWork', params: ({ context, event }) => ({ ...lease(context), reason: event.reason ?? 'cancelled' }) },
        },
      },
    },
    running: {
      after: {
        jobTimeout: {
          target: 'attemptFailed',
          actions: [
            { type: 'abortWork', params: ({ context }) => ({ ...lease(context), reason: 'timed out' }) },
            { type: 'recordError', params: ({ context }) => ({ error: { message: `timed out after ${context.timeoutMs} ms` } }) },
          ],
        },
      },
      on: {
        PROGRESS: {
          actions: assign({ progress: ({ event }) => clampProgress(event.progress), progressMessage: ({ event }) => event.message ?? null }),
        },
        COMPLETE: {
          target: 'completed',
          actions: assign({ result: ({ event }) => event.result ?? null, progress: 100, progressMessage: null, error: null }),
        },
        FAIL: [
          { guard: 'isPermanent', target: 'failed', actions: { type: 'recordError', params: ({ event }) => ({ error: event.error }) } },
          { target: 'attemptFailed', actions: { type: 'recordError', params: ({ event }) => ({ error: event.error }) } },
        ],
        LEASE_LOST: { target: 'leaseLost', actions: { type: 'recordError', params: ({ event }) => ({ error: { message: event.reason } }) } },
        CANCEL: {
          target: 'cancelled',
          actions: { type: 'abortWork', params: ({ context, event }) => ({ ...lease(context), reason: event.reason ?? 'cancelled' }) },
        },
      },
    },
    // Transient choice points: never held, so never recorded.
    attemptFailed: {
      always: [{ guard: 'hasAttemptsLeft', target: 'retrying', actions: 'releaseLease' }, { target: 'failed' }],
    },
    leaseLost: {
      always: [{ guard: 'hasAttemptsLeft', target: 'pending', actions: 'releaseLease' }, { target: 'failed' }],
    },
    retrying: {
      after: { retryBackoff: 'pending' },
      on: { CANCEL: 'cancelled' },
    },
    completed: { type: 'final' },
    failed: { type: 'final' },
    cancelled: { type: 'final' },
  },
});

function lease(context: JobContext) {
  return { workerId: context.workerId, connectorId: context.connectorId };
}

export type JobMachine = typeof jobMachine;
