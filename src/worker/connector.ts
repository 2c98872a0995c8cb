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
  /** Reports progress, 0 to 100. Cheap to call often: the worker coalesces reports. */
  progress(percent: number): void;
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

/** What the connector actor tells its worker about the job it runs. */
export interface ConnectorReports {
  job(jobId: string): JobRun | undefined;
  progress(jobId: string, progress: number): void;
  done(jobId: string, result: Json): void;
  failed(jobId: string, error: ErrorInfo): void;
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
                progress: (percent) => sendBack({ type: 'PROGRESS', progress: percent }),
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
            sendBack({ type: 'JOB_FAILED', error: toErrorInfo(error), serviceFault: error instanceof ServiceError });
          },
        );
        // Stopped before the work ended (cancel, timeout, lease lost): its signal fires.
        return () => {
          if (!settled) controller.abort(new Error('job aborted'));
        };
      }),
    },
    actions: {
      reportProgress: (_, { jobId, progress }) => jobId && reports.progress(jobId, progress),
      reportDone: (_, { jobId, result }) => jobId && reports.done(jobId, result),
      reportFailed: (_, { jobId, error }) => jobId && reports.failed(jobId, error),
    },
  });
}

export type ConnectorActor = ActorRefFrom<ReturnType<typeof connectorLogic>>;
