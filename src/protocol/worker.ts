/** The worker protocol over Socket.IO namespace `/worker`: what a worker may send, and what the hub sends it. */
import { z } from 'zod';
import { MAX_ERROR_CODE, MAX_ERROR_MESSAGE, type Json } from '../../machines/json.js';
import { idSchema } from './ids.js';
import { jobTypeSchema } from './jobs.js';
import { machineDefinitionSchema } from './definition-schema.js';
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

/** The version of the machine definition a snapshot came from (src/protocol/definition.ts). */
const versionSchema = z.string().regex(/^[0-9a-f]{1,64}$/);

export const workerAuthSchema = z.object({ token: z.string().optional() });

/** A job a worker holds: running on one of its connectors, or finished with its outcome not yet taken by the hub. */
export const heldJobSchema = z.strictObject({ jobId: idSchema, connectorId: idSchema });
export type HeldJob = z.output<typeof heldJobSchema>;

export const registerSchema = z.strictObject({
  workerId: idSchema,
  machineId: idSchema,
  capabilities: z.record(z.string().min(1), json).optional().default({}),
  /** Every connector the worker has: connectors of an earlier registration missing here leave the live set. */
  connectors: z
    .array(z.strictObject({ id: idSchema, type: jobTypeSchema, snapshot: connectorSnapshotSchema, version: versionSchema.optional() }))
    .max(1_000),
  /** The session this process held before its connection dropped, and the jobs it still holds in it. */
  resume: z.strictObject({ sessionId: z.string().min(1).max(200), jobs: z.array(heldJobSchema).max(10_000) }).optional(),
  /** The worker was draining: it stays so in the session this registration opens or resumes. */
  draining: z.boolean().optional(),
  /** The connector machine this worker runs, when it may not be the hub's (another build): served by `GET /api/machines/connector?version=`. */
  connectorMachine: machineDefinitionSchema.optional(),
});
export type Register = z.output<typeof registerSchema>;

/** The event that made a connector's snapshot (XState's, as the connector actor took it). */
const changeEventSchema = z.looseObject({ type: z.string().min(1).max(200) });

export const connectorUpdateSchema = z.strictObject({
  id: idSchema,
  snapshot: connectorSnapshotSchema,
  event: changeEventSchema.optional(),
  version: versionSchema.optional(),
});

/**
 * Every job report names the attempt it is about (the `attempt` of its assignment): a report of
 * an attempt the hub has moved on from (timed out, retried, even on the same worker) is refused.
 */
const jobReport = { jobId: idSchema, attempt: z.number().int().min(1).max(1_000_000) };
export const jobStartedSchema = z.strictObject(jobReport);
/** The longest progress message a connector may send with a report (characters). */
export const MAX_PROGRESS_MESSAGE = 200;
export const jobProgressSchema = z.strictObject({ ...jobReport, progress: z.number().finite(), message: z.string().max(MAX_PROGRESS_MESSAGE).optional() });
export const jobCompletedSchema = z.strictObject({ ...jobReport, result: json.optional() });
export const jobFailedSchema = z.strictObject({
  ...jobReport,
  error: z.strictObject({ message: z.string().max(MAX_ERROR_MESSAGE), code: z.string().min(1).max(MAX_ERROR_CODE).optional() }),
  /** False when trying again cannot help (e.g. a result over the size limit): the job fails for good. */
  retryable: z.boolean().optional(),
});
export const jobRejectedSchema = z.strictObject({ ...jobReport, reason: z.string().max(MAX_ERROR_MESSAGE) });

/** Sizes the hub accepts from a worker (bytes of JSON text); a worker keeps under them. */
export interface WorkerLimits {
  /** Largest message on the worker socket: a bigger one closes the connection. */
  maxMessageBytes: number;
  /** Largest job result; a bigger one fails its job (not retried). */
  maxResultBytes: number;
}

/** What the hub answers a registration with. */
export interface RegisterAck {
  sessionId: string;
  heartbeatMs: number;
  /** True when the registration resumed the worker's earlier session: it keeps its state and the jobs not in `revoked`. */
  resumed: boolean;
  /** Jobs the worker said it holds that are no longer its (cancelled, timed out, retried elsewhere): stop them, drop their outcomes. */
  revoked: string[];
  limits: WorkerLimits;
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
