/** How the hub's parts report a failure that no request or socket answers for: the hub logs it (hub.ts `errorLog`). */
import { HubError } from '../protocol/errors.js';
import { UnreadableRecordError } from '../store/record-text.js';

/** What failed and about what: `what` is the log line's message; the other fields go on the line (`actorId`, `workerId`...). */
export interface ErrorContext {
  what?: string;
  [field: string]: unknown;
}

export type ReportError = (error: unknown, context?: ErrorContext) => void;

/** The actor an error is about, when it says: a step's refusal naming it (`details.id`), a stored record that cannot be read. */
export function actorIdOf(error: unknown): string | undefined {
  if (error instanceof HubError) {
    const id = (error.details as { id?: unknown } | undefined)?.id;
    return typeof id === 'string' ? id : undefined;
  }
  return error instanceof UnreadableRecordError ? error.id : undefined;
}
