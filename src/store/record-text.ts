/**
 * Reading a stored record's text. The hubs write only records they can encode, but a store may
 * hold one written by an older version, or by hand: such a record fails its own actor's reads,
 * never a snapshot, the stream or another actor's.
 */
import { KINDS, type ActorRecord } from '../protocol/record.js';
import { checkShape } from '../protocol/shape.js';

/** Deeper than any record a hub writes (bodies nest at most 64 levels), well short of what encoding them would overflow. */
const MAX_RECORD_DEPTH = 256;
/** A text this short cannot nest deeper than the bound: it takes two brackets a level. */
const SHALLOW_TEXT = 2 * MAX_RECORD_DEPTH;
const KIND_SET = new Set<string>(KINDS);

/** A stored record that is not one: `id` when it is known (from where it was stored). */
export class UnreadableRecordError extends Error {
  constructor(
    readonly id: string | undefined,
    reason: string,
  ) {
    super(`the stored record${id === undefined ? '' : ` of ${id}`} cannot be read: ${reason}`);
    this.name = 'UnreadableRecordError';
  }
}

/** The record in `text`; throws UnreadableRecordError when it is not JSON, not a record, too deep, or not `id`'s. */
export function parseRecord(text: string, id?: string): ActorRecord {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new UnreadableRecordError(id, `not JSON (${(error as Error).message})`);
  }
  const record = value as Partial<ActorRecord> | null;
  const problem =
    record === null || typeof record !== 'object' || Array.isArray(record)
      ? 'not an object'
      : typeof record.id !== 'string' || (id !== undefined && record.id !== id)
        ? `its id is ${JSON.stringify(record.id)}`
        : !KIND_SET.has(record.kind as string)
          ? `its kind is ${JSON.stringify(record.kind)}`
          : !Number.isSafeInteger(record.seq) || (record.seq as number) < 1
            ? `its seq is ${JSON.stringify(record.seq)}`
            : typeof record.state !== 'string' || typeof record.updatedAt !== 'string'
              ? 'it has no state or updatedAt'
              : record.snapshot === null || typeof record.snapshot !== 'object' || typeof record.snapshot.context !== 'object' || record.snapshot.context === null
                ? 'it has no snapshot with a context'
                : tooDeep(text, record);
  if (problem) throw new UnreadableRecordError(id ?? (typeof record?.id === 'string' ? record.id : undefined), problem);
  return record as ActorRecord;
}

function tooDeep(text: string, record: object): string | undefined {
  if (text.length <= SHALLOW_TEXT) return undefined;
  // A text with fewer brackets than the bound cannot nest deeper: most records need no walk.
  let brackets = 0;
  for (let index = 0; index < text.length && brackets <= MAX_RECORD_DEPTH; index++) {
    const code = text.charCodeAt(index);
    if (code === 0x7b || code === 0x5b) brackets++;
  }
  if (brackets <= MAX_RECORD_DEPTH) return undefined;
  try {
    checkShape(record, 'record', { maxDepth: MAX_RECORD_DEPTH, maxKeys: Infinity, maxItems: Infinity, maxStringLength: Infinity });
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}
