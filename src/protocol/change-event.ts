/**
 * The event recorded with a change (`LogEntry.event`): what an inspector shows beside each
 * state. Events are recorded as plain JSON; an `Error` becomes `{ name, message }`, and a field
 * whose JSON is over MAX_EVENT_FIELD_BYTES becomes `{ omitted: <bytes> }`, since the value it
 * carried (a job's result, a payload) is in the record's context already and an event log must
 * not hold every large value twice.
 */
import type { ChangeEvent } from './record.js';
import { JsonTexts } from './encoding.js';

/** Bytes of JSON text above which an event's field is left out of the record of it. */
export const MAX_EVENT_FIELD_BYTES = 1_024;

/** The first record of an actor: XState's own name for the initial step. Its input is the record's context. */
export const INIT_EVENT: ChangeEvent = Object.freeze({ type: 'xstate.init' });
/** The actor left the live set. */
export const REMOVE_EVENT: ChangeEvent = Object.freeze({ type: 'statehub.remove' });

/** The JSON text of events, made once: a step makes it to record the event, a store writes it. */
const texts = new JsonTexts<ChangeEvent>();

/** The same text as JSON.stringify(event), made once per recorded event. */
export function encodeEvent(event: ChangeEvent): string {
  return texts.encode(event);
}

/** `event` as recorded: plain JSON, large fields left out. Throws nothing: what JSON cannot hold is dropped. */
export function recordedEvent(event: { type: string }): ChangeEvent {
  let text: string | undefined;
  try {
    text = JSON.stringify(event, plain);
  } catch {
    return { type: String(event.type) };
  }
  if (text === undefined) return { type: String(event.type) };
  const copy = JSON.parse(text) as ChangeEvent;
  if (Buffer.byteLength(text) <= MAX_EVENT_FIELD_BYTES) {
    texts.remember(copy, text);
    return copy;
  }
  for (const [field, value] of Object.entries(copy)) {
    if (field === 'type') continue;
    const bytes = Buffer.byteLength(JSON.stringify(value) ?? '');
    if (bytes > MAX_EVENT_FIELD_BYTES) copy[field] = { omitted: bytes };
  }
  return copy;
}

function plain(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message };
  if (typeof value === 'bigint') return value.toString();
  return value;
}
