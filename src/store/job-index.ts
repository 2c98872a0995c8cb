/** What a job record contributes to the store's indexes; both stores derive them the same way. */
import type { JobContext, Requirements } from '../../machines/job.js';
import type { ActorRecord } from '../protocol/record.js';
import { requirementsKey } from '../protocol/requirements.js';

export interface QueuePlace {
  type: string;
  requirements: Requirements;
  /** Equal requirements share one queue. */
  requirementsKey: string;
  priority: number;
  createdAt: string;
}

/** Where a pending job waits, or undefined for a job that is not pending (or not a job). */
export function queuePlace(record: ActorRecord): QueuePlace | undefined {
  if (record.kind !== 'job' || record.removed || record.state !== 'pending') return undefined;
  const context = record.snapshot.context as unknown as JobContext;
  return {
    type: context.type,
    requirements: context.requirements,
    requirementsKey: requirementsKey(context.requirements),
    priority: context.priority,
    createdAt: context.createdAt,
  };
}

/** The worker holding a job (assigned or running), if any. */
export function leaseHolder(record: ActorRecord): string | undefined {
  if (record.kind !== 'job' || record.removed) return undefined;
  if (record.state !== 'assigned' && record.state !== 'running') return undefined;
  return (record.snapshot.context as unknown as JobContext).workerId ?? undefined;
}
