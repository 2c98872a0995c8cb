/**
 * One change of an actor as the inspector shows it: the log entry and, where the hub sent it, the
 * event that caused the change (`GET /api/actors/:id/history` entries carry it; so do streamed
 * changes of a monitor that asks for events). Entries written before the hub kept events have none.
 */
import type { LogEntry } from '../../../src/protocol/record.js';

export interface ChangeEvent {
  type: string;
  [field: string]: unknown;
}

/** The event that caused the change, when the entry carries one. */
export function changeEvent(entry: LogEntry): ChangeEvent | undefined {
  const event: unknown = (entry as { event?: unknown }).event;
  return typeof event === 'object' && event !== null && typeof (event as { type?: unknown }).type === 'string' ? (event as ChangeEvent) : undefined;
}
