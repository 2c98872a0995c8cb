/**
 * Deltas: a change sent as a patch against the actor's previous record (its `seq - 1`) instead
 * of the whole record, so a progress step of a job with a 900 KB payload costs a few dozen bytes,
 * not the payload again. Asked for with the monitor handshake's `deltas: true`; the snapshot,
 * replays and catch-ups stay whole records.
 *
 * The patch is a list of operations, each `[path, value]` (set: add or replace) or `[path]`
 * (remove), with RFC 6901 JSON Pointer paths (https://www.rfc-editor.org/rfc/rfc6901): RFC 6902
 * JSON Patch's `add`/`replace`/`remove` in a third of the bytes, since most changes are a few
 * small fields and `{"op":"replace","path":…,"value":…}` would cost more than the field. The
 * record's `seq` is the delta's own. Objects are compared key by key; arrays and other values
 * are set whole.
 */
import type { ActorRecord, ChangeEvent, LogEntry } from './record.js';

export type PatchOperation = [path: string, value: unknown] | [path: string];

/** `{ offset, delta }` on the wire: applied to the record with `seq - 1` of actor `id`, `patch` gives the record with `seq`. */
export interface DeltaEntry {
  offset: string;
  delta: { id: string; seq: number; patch: PatchOperation[] };
  /** The event that caused the change, for observers that asked for events. */
  event?: ChangeEvent;
}

/** What a `transitions` batch carries to a monitor that asked for deltas. */
export type StreamEntry = LogEntry | DeltaEntry;

/** Raised when a delta does not follow the record held: the receiver must resync (resume with `since`). */
export class DeltaBaseError extends Error {}

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

/** RFC 6901: `~` -> `~0`, `/` -> `~1`. */
const escape = (key: string) => (key.includes('~') || key.includes('/') ? key.replace(/~/g, '~0').replace(/\//g, '~1') : key);
const unescape = (token: string) => (token.includes('~') ? token.replace(/~1/g, '/').replace(/~0/g, '~') : token);

/** The JSON Patch turning `from` into `to` (both plain JSON, as records are). */
export function diff(from: Json, to: Json, path = '', patch: PatchOperation[] = []): PatchOperation[] {
  for (const key of Object.keys(from)) {
    if (from[key] !== undefined && own(to, key) === undefined) patch.push([`${path}/${escape(key)}`]);
  }
  for (const key of Object.keys(to)) {
    const before = own(from, key);
    const after = to[key];
    // An undefined property is no property in JSON.
    if (before === after || after === undefined) continue;
    const at = `${path}/${escape(key)}`;
    if (isObject(before) && isObject(after)) diff(before, after, at, patch);
    else if (!sameJson(before, after)) patch.push([at, after]);
  }
  return patch;
}

/** A property of the object itself (`__proto__` included), never one it inherits. */
const own = (object: Json, key: string): unknown => (Object.hasOwn(object, key) ? object[key] : undefined);

/** Equal as JSON, for values that are not both objects (arrays compared element by element). */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((item, index) => sameJson(item, b[index]));
  if (isObject(a) && isObject(b)) {
    const defined = (object: Json) => Object.keys(object).filter((key) => object[key] !== undefined);
    const keys = defined(a);
    return keys.length === defined(b).length && keys.every((key) => sameJson(a[key], own(b, key)));
  }
  return false;
}

/** The delta from `previous` (seq n - 1) to `next` (seq n). */
export function toDelta(offset: string, previous: ActorRecord, next: ActorRecord): DeltaEntry {
  const patch = diff(previous as unknown as Json, next as unknown as Json).filter(([path]) => path !== '/seq');
  return { offset, delta: { id: next.id, seq: next.seq, patch } };
}

/**
 * The record a delta makes of `base`, which is left untouched: only the objects on the patched
 * paths are copied, the rest (a large payload) is shared. Throws DeltaBaseError when `base` is
 * not the delta's `seq - 1`, or a path does not fit it.
 */
export function applyDelta(base: ActorRecord | undefined, { delta }: DeltaEntry): ActorRecord {
  if (!base || base.id !== delta.id || base.seq !== delta.seq - 1) {
    throw new DeltaBaseError(`${delta.id}: a delta for seq ${delta.seq} does not follow ${base ? `seq ${base.seq}` : 'nothing held'}`);
  }
  const root: Json = { ...(base as unknown as Json), seq: delta.seq };
  const copies = new WeakSet<Json>([root]);
  for (const operation of delta.patch) applyOperation(root, operation, copies);
  return root as unknown as ActorRecord;
}

/** Objects on the path are copied the first time this delta changes something below them (`copies`). */
function applyOperation(root: Json, operation: PatchOperation, copies: WeakSet<Json>): void {
  const [path] = operation;
  const tokens = path.split('/').slice(1).map(unescape);
  const last = tokens.pop();
  if (last === undefined || path[0] !== '/') throw new DeltaBaseError(`bad patch path "${path}"`);
  let parent = root;
  for (const token of tokens) {
    const child = parent[token];
    if (!isObject(child) || !Object.hasOwn(parent, token)) throw new DeltaBaseError(`patch path "${path}" does not fit the record`);
    if (copies.has(child)) {
      parent = child;
      continue;
    }
    const copy = { ...child };
    copies.add(copy);
    define(parent, token, copy);
    parent = copy;
  }
  if (operation.length === 1) delete parent[last];
  else define(parent, last, operation[1]);
}

/** Sets an own property, even one named `__proto__`. */
function define(target: Json, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}
