/**
 * What a connector type provides: how to check its service and how to run a job on it. The
 * worker wraps it in the connector machine (machines/connector.ts), which decides when each
 * is called.
 */
import { fromCallback, fromPromise, type ActorRefFrom } from 'xstate';
import { connectorMachine, type HealthReport, type RunJobEvent, type RunJobInput } from '../../machines/connector.js';
import { toErrorInfo, type ErrorInfo, type Json } from '../../machines/json.js';

/** One attempt of a job, as a connector sees it. */
export interface JobRun {
  id: string;
  type: string;
  payload: Json;
  /** 1 for the first attempt. */
  attempt: number;
  maxAttempts: number;
  timeoutMs: number | null;
}

export interface RunContext {
  /** Fires when the job is cancelled, times out or its lease is lost: stop the work. */
  signal: AbortSignal;
  /**
   * Reports progress, 0 to 100, and optionally what is happening now in a few words (up to 200
   * characters; longer is cut), shown beside the bar. Cheap to call often: the worker coalesces
   * reports.
   */
  progress(percent: number, message?: string): void;
}

export interface ConnectorImplementation {
  /** The job type this connector serves. */
  type: string;
  /** A stable id; default `<workerId>/<type>-<n>`. */
  id?: string;
  /** Resolves when the service answers (optionally with its latency); rejects when it does not. */
  checkHealth?(signal: AbortSignal): Promise<HealthReport | void>;
  /** Runs one attempt; resolves with its result. Throw a ServiceError when the service itself is broken. */
  run(job: JobRun, context: RunContext): Promise<Json | void>;
  /** Re-check the service this often while idle; null (the default) never re-checks. */
  healthIntervalMs?: number | null;
  /** First wait before restarting after an error; doubles per consecutive failure. */
  restartDelayMs?: number;
}

/** The service behind a connector is broken (unreachable, 5xx...): the job fails this attempt and the connector restarts. */
export class ServiceError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ServiceError';
  }
}

/**
 * Trying the job again cannot help: bad input, content the service refused, credentials it
 * rejected. The job fails at once, its remaining attempts skipped, with `code` and the message
 * kept in its `error`. `serviceFault: true` also sends the connector to `error` (e.g. an auth
 * failure: every job would fail the same way until someone fixes the key).
 */
export class PermanentError extends Error {
  readonly code: string | undefined;
  readonly serviceFault: boolean;

  constructor(message: string, options?: { code?: string; serviceFault?: boolean; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PermanentError';
    this.code = options?.code;
    this.serviceFault = options?.serviceFault ?? false;
  }
}

/** What the connector actor tells its worker about the job it runs. */
export interface ConnectorReports {
  job(jobId: string): JobRun | undefined;
  progress(jobId: string, progress: number, message?: string): void;
  done(jobId: string, result: Json): void;
  /** `permanent`: the job must not be tried again. */
  failed(jobId: string, error: ErrorInfo, permanent: boolean): void;
}

/** The connector machine with this implementation's actors and the worker's reports provided. */
export function connectorLogic(implementation: ConnectorImplementation, reports: ConnectorReports) {
  return connectorMachine.provide({
    actors: {
      checkHealth: fromPromise<HealthReport>(async ({ signal }) => (await implementation.checkHealth?.(signal)) ?? {}),
      runJob: fromCallback<RunJobEvent, RunJobInput>(({ input, sendBack }) => {
        const controller = new AbortController();
        const job = reports.job(input.jobId);
        const work = job
          ? Promise.resolve().then(() =>
              implementation.run(job, {
                signal: controller.signal,
                progress: (percent, message) => sendBack({ type: 'PROGRESS', progress: percent, ...(message === undefined ? {} : { message: String(message) }) }),
              }),
            )
          : Promise.reject(new Error(`job ${input.jobId} is unknown to this worker`));
        let settled = false;
        work.then(
          (result) => {
            settled = true;
            sendBack({ type: 'JOB_DONE', result: result ?? null });
          },
          (error: unknown) => {
            settled = true;
            const permanent = error instanceof PermanentError;
            sendBack({
              type: 'JOB_FAILED',
              error: toErrorInfo(error),
              serviceFault: error instanceof ServiceError || (permanent && error.serviceFault),
              permanent,
            });
          },
        );
        // Stopped before the work ended (cancel, timeout, lease lost): its signal fires.
        return () => {
          if (!settled) controller.abort(new Error('job aborted'));
        };
      }),
    },
    actions: {
      reportProgress: (_, { jobId, progress, message }) => jobId && reports.progress(jobId, progress, message),
      reportDone: (_, { jobId, result }) => jobId && reports.done(jobId, result),
      reportFailed: (_, { jobId, error, permanent }) => jobId && reports.failed(jobId, error, permanent),
    },
  });
}

export type ConnectorActor = ActorRefFrom<ReturnType<typeof connectorLogic>>;
