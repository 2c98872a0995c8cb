/**
 * A connector a test controls, built on the public ConnectorImplementation interface. Its jobs'
 * payload says what to do: `{ hold: true }` runs until the job's AbortSignal fires,
 * `{ fail: true }` fails with `attempt N failed`, anything else completes with `{ ran: <job id> }`.
 */
import type { ConnectorImplementation, JobRun } from 'statehub/worker';

export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((done) => (resolve = done));
  return { promise, resolve };
}

export interface ControlledConnector {
  readonly implementation: ConnectorImplementation;
  /** Every attempt it was given, in order. */
  readonly runs: JobRun[];
  /** Resolves when an attempt of the job starts on this connector. */
  started(jobId: string): Promise<JobRun>;
  /** Resolves with the abort reason when the signal of the job's running attempt fires. */
  aborted(jobId: string): Promise<unknown>;
}

export function controlledConnector(options: { type?: string; id?: string } = {}): ControlledConnector {
  const runs: JobRun[] = [];
  const starts = new Map<string, Deferred<JobRun>>();
  const aborts = new Map<string, Deferred<unknown>>();
  const get = <T>(map: Map<string, Deferred<T>>, jobId: string) => {
    let entry = map.get(jobId);
    if (!entry) map.set(jobId, (entry = deferred<T>()));
    return entry;
  };
  const implementation: ConnectorImplementation = {
    type: options.type ?? 'controlled',
    ...(options.id === undefined ? {} : { id: options.id }),
    async run(job, { signal }) {
      runs.push(job);
      signal.addEventListener('abort', () => get(aborts, job.id).resolve(signal.reason), { once: true });
      get(starts, job.id).resolve(job);
      const payload = (job.payload ?? {}) as { hold?: boolean; fail?: boolean };
      if (payload.hold) {
        await new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true }));
      }
      if (payload.fail) throw new Error(`attempt ${job.attempt} failed`);
      return { ran: job.id };
    },
  };
  return {
    implementation,
    runs,
    started: (jobId) => get(starts, jobId).promise,
    aborted: (jobId) => get(aborts, jobId).promise,
  };
}
