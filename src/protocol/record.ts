/** The record: the serialized state of one actor, as the hub holds it and as every view sees it. */
import type { StateValue } from 'xstate';

export const KINDS = ['machine', 'worker', 'connector', 'job', 'probe'] as const;
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
  /** ISO-8601. */
  updatedAt: string;
  /** The actor left the live set. */
  removed?: true;
}

/** One change in the hub's ordered log. */
export interface LogEntry {
  offset: string;
  record: ActorRecord;
}

export interface Snapshot {
  offset: string;
  records: ActorRecord[];
}

/** The top-level state name of a state value: `{ idle: 'ready' }` -> `idle`. */
export function topState(value: StateValue): string {
  return typeof value === 'string' ? value : (Object.keys(value)[0] ?? '');
}
