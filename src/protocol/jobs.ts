/** Inbound job submissions (HTTP), validated before anything is written. */
import { z } from 'zod';
import { NEVER, type Json } from '../../machines/json.js';
import { MAX_BACKOFF_MS, type JobInput } from '../../machines/job.js';

// Bodies come out of JSON.parse, so payloads are JSON by construction: checking them again
// value by value would cost more than the rest of the request.
const json = z.custom<Json>(() => true);

export const jobTypeSchema = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.:/-]*$/, 'a job type is letters, digits and _ . : / - (starting with a letter or digit)');

export const jobSubmissionSchema = z.strictObject({
  type: jobTypeSchema,
  payload: json.optional(),
  // Bounds first: 1e308 is out of range, which says more than "not a safe integer".
  priority: z.number().min(-1_000_000).max(1_000_000).int().optional(),
  requirements: z.record(z.string().min(1), json).optional(),
  maxAttempts: z.number().int().min(1).max(1_000).optional(),
  timeoutMs: z.number().int().min(1).max(NEVER - 1).nullable().optional(),
  backoffMs: z.number().int().min(0).max(MAX_BACKOFF_MS).optional(),
});

export type JobSubmission = z.output<typeof jobSubmissionSchema>;

export const MAX_BATCH = 1_000;

export const jobBatchSchema = z.strictObject({
  jobs: z.array(z.unknown()).min(1).max(MAX_BATCH),
});

export function toJobInput(submission: JobSubmission, createdAt: string): JobInput {
  return { ...submission, createdAt };
}
