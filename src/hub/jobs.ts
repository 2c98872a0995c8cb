/**
 * Jobs as clients and workers drive them: submit and cancel from the API; start, progress,
 * completion and failure from the worker that holds the job's lease.
 */
import { randomBytes } from 'node:crypto';
import type { Json } from '../../machines/json.js';
import { JOB_FINAL_STATES, type JobContext, type JobEvent } from '../../machines/job.js';
import { HubError } from '../protocol/errors.js';
import { checkShape } from '../protocol/shape.js';
import { jsonBytes, tooLarge } from '../protocol/sizes.js';
import { toJobInput, type JobSubmission } from '../protocol/jobs.js';
import type { ActorRecord } from '../protocol/record.js';
import { leaseHolder } from '../store/job-index.js';
import { StoreUnavailableError } from '../store/store.js';
import type { ActorHost } from './actor-host.js';
import type { Transaction } from './transaction.js';

const FINAL = new Set<string>(JOB_FINAL_STATES);

export const isFinal = (job: ActorRecord) => FINAL.has(job.state);

export const jobContext = (job: ActorRecord) => job.snapshot.context as unknown as JobContext;

let lastMs = 0;
let sameMs = 0;
// Random bits drawn in bulk: one randomBytes call per id costs more than the rest of a submission.
let pool = Buffer.alloc(0);
let poolAt = 0;
function randomHex(bytes: number): string {
  if (poolAt + bytes > pool.length) {
    pool = randomBytes(4_096);
    poolAt = 0;
  }
  poolAt += bytes;
  return pool.toString('hex', poolAt - bytes, poolAt);
}

/**
 * Job ids in submission order (the queue breaks ties of equal priority and millisecond by id):
 * `job_` + time (base 36) + a counter within the millisecond + 48 random bits.
 */
export function newJobId(now: number): string {
  if (now > lastMs) {
    lastMs = now;
    sameMs = 0;
  } else {
    sameMs += 1;
  }
  return `job_${lastMs.toString(36)}${sameMs.toString(36).padStart(4, '0')}${randomHex(6)}`;
}

/**
 * The event a worker's completion report becomes: COMPLETE, or, for a result over the shape bounds
 * (protocol/shape.ts) or whose JSON text is over `maxResultBytes`, a failure retrying cannot fix,
 * saying which limit.
 */
export function completion(result: Json, maxResultBytes: number): JobEvent {
  try {
    checkShape(result, 'result');
  } catch (error) {
    return { type: 'FAIL', error: { message: (error as Error).message }, retryable: false };
  }
  const bytes = jsonBytes(result);
  if (bytes <= maxResultBytes) return { type: 'COMPLETE', result };
  return { type: 'FAIL', error: { message: `${tooLarge('the result', bytes, maxResultBytes)} (--max-result-bytes)` }, retryable: false };
}

export class Jobs {
  constructor(private readonly host: ActorHost) {}

  /**
   * Creates the jobs, all or none; they wait `pending` until a connector of their type is idle.
   * When the store did not answer the commit (503), it may still have made it: the answer names
   * the ids (`details.ids`), so a client reads them before it submits again, instead of
   * submitting twice.
   */
  async submit(submissions: JobSubmission[]): Promise<ActorRecord[]> {
    let ids: string[] = [];
    try {
      const { value } = await this.host.run(async (tx) => {
        const records: ActorRecord[] = [];
        for (const submission of submissions) {
          records.push(await tx.create('job', newJobId(tx.now), toJobInput(submission, tx.updatedAt)));
        }
        ids = records.map((record) => record.id);
        return records;
      });
      return value;
    } catch (error) {
      if (!(error instanceof StoreUnavailableError) || !error.maybeApplied) throw error;
      throw new HubError('unavailable', `${error.message}; the jobs may have been stored all the same: read them by id (details.ids) before submitting again`, { ids });
    }
  }

  async get(id: string): Promise<ActorRecord> {
    const record = await this.host.store.get(id);
    if (!record || record.kind !== 'job') throw new HubError('not_found', `no job ${id}`);
    return record;
  }

  /** Cancels an unfinished job; a running one is aborted on its connector. */
  async cancel(id: string, reason = 'cancelled by a client'): Promise<ActorRecord> {
    const { value } = await this.host.run(async (tx) => {
      const job = await tx.get(id);
      if (!job || job.kind !== 'job') throw new HubError('not_found', `no job ${id}`);
      if (isFinal(job)) throw new HubError('conflict', `job ${id} is already ${job.state}`, { state: job.state });
      return (await tx.send(id, { type: 'CANCEL', reason } satisfies JobEvent)) as ActorRecord;
    });
    return value;
  }

  /**
   * Applies a report of the worker holding the job (START, PROGRESS, COMPLETE, FAIL, or LEASE_LOST
   * when it could not take it) about `attempt`. Returns why it was refused, or undefined when it
   * was applied: the job must be leased to that worker, on that attempt.
   */
  async report(tx: Transaction, workerId: string, jobId: string, attempt: number, event: JobEvent): Promise<string | undefined> {
    const job = await tx.get(jobId);
    if (!job || job.kind !== 'job') return `no job ${jobId}`;
    const holder = leaseHolder(job);
    if (holder !== workerId) return holder === undefined ? `job ${jobId} is ${job.state}` : `job ${jobId} is leased to worker ${holder}`;
    const current = jobContext(job).attempts;
    if (current !== attempt) return `job ${jobId} is on attempt ${current}, not ${attempt}`;
    await tx.send(jobId, event);
    return undefined;
  }
}
