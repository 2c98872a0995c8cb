/**
 * Reading a streamed HTTP answer as it arrives, for the connectors of model servers:
 *
 * - `lines`: the body's text, one line at a time. A line ends at CRLF, LF or CR, as both
 *   formats below allow; a CRLF split between two network chunks is still one line end.
 * - `serverSentEvents`: the events of a `text/event-stream` (the OpenAI API's streams), parsed
 *   as the WHATWG HTML standard's "event stream interpretation" says
 *   (https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation):
 *   `field: value` lines, a blank line ends an event, `data` lines join with a newline, lines
 *   starting with `:` are comments, and an event left unfinished when the stream ends is dropped.
 * - `jsonLines`: newline-delimited JSON (Ollama's streams: one object per line, see
 *   https://github.com/ollama/ollama/blob/main/docs/api.md#streaming-responses).
 * - `tokenProgress`: how far a stream of tokens is, against the most the request allows.
 */
import { ServiceError } from '../connector.js';

export interface ServerSentEvent {
  /** The `event` field; `message` when the event has none. */
  event: string;
  data: string;
  /** The last `id` field seen in the stream so far ('' when none). */
  id: string;
}

const LINE_END = /\r\n|\r|\n/;

export async function* lines(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let pending = '';
  for await (const chunk of chunks) {
    const text = pending + decoder.decode(chunk, { stream: true });
    // A CR at the very end may be the first half of a CRLF: wait for the next chunk to tell.
    const end = text.endsWith('\r') ? text.length - 1 : text.length;
    const parts = text.slice(0, end).split(LINE_END);
    pending = (parts.pop() ?? '') + text.slice(end);
    yield* parts;
  }
  const rest = (pending + decoder.decode()).replace(/\r$/, '');
  if (rest !== '') yield rest;
}

export async function* serverSentEvents(source: AsyncIterable<string>): AsyncGenerator<ServerSentEvent> {
  let event = '';
  let data: string[] = [];
  let id = '';
  for await (const line of source) {
    if (line === '') {
      if (data.length > 0) yield { event: event || 'message', data: data.join('\n'), id };
      event = '';
      data = [];
      continue;
    }
    if (line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
    else if (field === 'id' && !value.includes('\0')) id = value;
  }
}

/** Each non-blank line parsed as JSON; a line that is not JSON means the service broke the format. */
export async function* jsonLines(source: AsyncIterable<string>): AsyncGenerator<unknown> {
  for await (const line of source) {
    if (line.trim() === '') continue;
    yield parseStreamed(line);
  }
}

/** One streamed piece of JSON (an NDJSON line, an SSE event's data). */
export function parseStreamed(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ServiceError(`the service streamed something that is not JSON: ${text.slice(0, 200)}`);
  }
}

/**
 * Progress of a generation: the share of `limit` tokens received, kept below 100 until the
 * answer is whole (a model may stop early, never late); without a limit only the count is
 * known, so the bar stays at 0 and the message says how many came.
 */
export function tokenProgress(tokens: number, limit: number | undefined): { percent: number; message: string } {
  if (limit === undefined) return { percent: 0, message: `${tokens} ${tokens === 1 ? 'token' : 'tokens'}` };
  return { percent: Math.min(99, Math.floor((tokens / limit) * 100)), message: `${tokens} of ${limit} tokens` };
}

/** A positive whole token limit from a request body's field, if it holds one. */
export function tokenLimit(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : undefined;
}
