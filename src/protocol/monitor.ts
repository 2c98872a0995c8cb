/** What an observer (a Socket.IO monitor or an SSE client) asks for. */
import { z } from 'zod';
import { KINDS, type ActorRecord, type Kind } from './record.js';
import { idSchema } from './ids.js';

export const filterSchema = z.strictObject({
  kinds: z.array(z.enum(KINDS)).min(1).optional(),
  ids: z.array(idSchema).min(1).max(10_000).optional(),
});

export type Filter = z.output<typeof filterSchema>;

export const offsetSchema = z.string().min(1).max(200);

/** The hub's clock when it answered (epoch ms) on GET /api/snapshot; the `synced` event carries it as `time`. */
export const TIME_HEADER = 'x-statehub-time';

/** Socket.IO `/monitor` handshake `auth`. */
export const monitorAuthSchema = z.object({
  token: z.string().optional(),
  since: offsetSchema.optional(),
  filter: filterSchema.optional(),
  /** Live changes as deltas against the actor's previous record (src/protocol/delta.ts) where the hub can. */
  deltas: z.boolean().optional(),
  /** Live changes and replays carry the event that caused each (`LogEntry.event`): for inspectors. */
  events: z.boolean().optional(),
});

export type MonitorAuth = z.output<typeof monitorAuthSchema>;

/** A predicate for records matching `filter`, or undefined when it lets everything through. */
export function recordFilter(filter: Filter | undefined): ((record: ActorRecord) => boolean) | undefined {
  if (!filter || (!filter.kinds && !filter.ids)) return undefined;
  const kinds = filter.kinds && new Set<Kind>(filter.kinds);
  const ids = filter.ids && new Set(filter.ids);
  return (record) => (!kinds || kinds.has(record.kind)) && (!ids || ids.has(record.id));
}
