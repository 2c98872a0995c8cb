/** The worker protocol over Socket.IO namespace `/worker`: what a worker may send, and what the hub sends it. */
import { z } from 'zod';
import type { Json } from '../../machines/json.js';
import { idSchema } from './ids.js';
import { jobTypeSchema } from './jobs.js';
import type { PersistedSnapshot } from './record.js';

// Socket.IO delivers JSON-decoded values; results are JSON by construction.
const json = z.custom<Json>(() => true);

/** A connector's persisted XState snapshot, as its worker reports it. */
export const connectorSnapshotSchema = z.looseObject({
  status: z.enum(['active', 'done', 'error', 'stopped']),
  value: z.union([z.string(), z.record(z.string(), z.unknown())]),
  context: z.record(z.string(), z.unknown()),
  children: z.record(z.string(), z.unknown()).optional().default({}),
}) as unknown as z.ZodType<PersistedSnapshot>;

export const workerAuthSchema = z.object({ token: z.string().optional() });

export const registerSchema = z.strictObject({
  workerId: idSchema,
  machineId: idSchema,
  capabilities: z.record(z.string().min(1), json).optional().default({}),
  connectors: z
    .array(z.strictObject({ id: idSchema, type: jobTypeSchema, snapshot: connectorSnapshotSchema }))
    .max(1_000),
});
export type Register = z.output<typeof registerSchema>;

export const connectorUpdateSchema = z.strictObject({ id: idSchema, snapshot: connectorSnapshotSchema });

const jobId = z.strictObject({ jobId: idSchema });
export const jobStartedSchema = jobId;
export const jobProgressSchema = z.strictObject({ jobId: idSchema, progress: z.number().finite() });
export const jobCompletedSchema = z.strictObject({ jobId: idSchema, result: json.optional() });
export const jobFailedSchema = z.strictObject({
  jobId: idSchema,
  error: z.strictObject({ message: z.string().max(10_000) }),
});
export const jobRejectedSchema = z.strictObject({ jobId: idSchema, reason: z.string().max(10_000) });

/** What the hub answers a registration with. */
export interface RegisterAck {
  sessionId: string;
  heartbeatMs: number;
}

/** hub -> worker `job:assign`. */
export interface Assignment {
  jobId: string;
  connectorId: string;
  type: string;
  payload: Json;
  attempt: number;
  maxAttempts: number;
  timeoutMs: number | null;
}

/** hub -> worker `job:abort`. */
export interface Abort {
  jobId: string;
  reason: string;
}

/** A heartbeat's answer: `resync` means the hub no longer counts this session; register again. */
export interface HeartbeatAck {
  resync: boolean;
}
