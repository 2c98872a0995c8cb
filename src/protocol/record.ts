/** The record: the serialized state of one actor, as the hub holds it and as every view sees it. */
import type { StateValue } from 'xstate';

export const KINDS = ['machine', 'worker', 'connector', 'job', 'probe', 'webhook'] as const;
export type Kind = (typeof KINDS)[number];

/** XState's persisted snapshot: plain JSON. */
export interface PersistedSnapshot {
  status: 'active' | 'done' | 'error' | 'stopped';
  value: StateValue;
  context: Record<string, unknown>;
  children: Record<string, unknown>;
  historyValue?: unknown;
  output?: unknown;
  error?: unknown;
  [key: string]: unknown;
}

export interface ActorRecord {
  /** Unique across kinds, stable for the actor's life. */
  id: string;
  kind: Kind;
  /** connector -> worker, worker -> machine. */
  parentId?: string;
  /** Per actor: 1 for its first record, +1 on every change, no gaps. */
  seq: number;
  /** Top-level state name. */
  state: string;
  snapshot: PersistedSnapshot;
  /** ISO-8601: when this record was committed. */
  updatedAt: string;
  /**
   * ISO-8601: when the actor entered its current top-level `state` (set by the step that made
   * the change, so every reader shows the same "idle since"). Records written before this field
   * existed lack it; read it through `stateSince()`.
   */
  stateSince?: string;
  /**
   * The version of the machine definition that made this record (`GET /api/machines/:kind`
   * serves it): a chart is drawn only from the definition that made the record. Records written
   * before this field existed lack it.
   */
  version?: string;
  /** The actor left the live set. */
  removed?: true;
}

/**
 * The event that caused a change, as recorded with it (src/protocol/change-event.ts): plain JSON,
 * large fields left out. `xstate.init` for an actor's first record, `statehub.remove` for its
 * removal.
 */
export interface ChangeEvent {
  type: string;
  [field: string]: unknown;
}

/** One change in the hub's ordered log. */
export interface LogEntry {
  offset: string;
  record: ActorRecord;
  /**
   * What caused it. Kept in the log and the actor's history, and sent to observers that ask for
   * events (`events: true`); absent for changes written before events were recorded.
   */
  event?: ChangeEvent;
}

export interface Snapshot {
  offset: string;
  records: ActorRecord[];
}

/** When the actor entered its current state: the record's own fact, or its last change for records that predate it. */
export function stateSince(record: ActorRecord): string {
  return record.stateSince ?? record.updatedAt;
}

/** The top-level state name of a state value: `{ idle: 'ready' }` -> `idle`. */
export function topState(value: StateValue): string {
  return typeof value === 'string' ? value : (Object.keys(value)[0] ?? '');
}
