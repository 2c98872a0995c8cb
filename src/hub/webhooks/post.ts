/**
 * One webhook POST: bounded in time (answer included), its answer read and dropped up to a bound
 * so the connection can serve the next one, redirects not followed (the URL an operator
 * registered is the only one the changes go to).
 */
import { performance } from 'node:perf_hooks';

export interface Post {
  url: string;
  /** JSON text, sent as is (the signature covers these bytes). */
  body: string;
  /** Beside content-type and user-agent: the signature and what identifies the change. */
  headers: Record<string, string>;
  timeoutMs: number;
  /** The round's: fired when the hub stops or the webhook is deleted. */
  signal: AbortSignal;
}

export interface PostOutcome {
  /** Answered 2xx. */
  ok: boolean;
  /** The HTTP status; null when there was no answer. */
  status: number | null;
  /** From sending to the answer's status (to 0.1 ms). */
  ms: number;
  /** Why it failed (no secrets, no payloads: the answer's body is never kept); null when it did not. */
  error: string | null;
}

/** Bytes of an answer read before the rest is dropped. */
const MAX_ANSWER_BYTES = 64 * 1024;
const MAX_ERROR_LENGTH = 300;

/**
 * POSTs `post.body` to `post.url`. Resolves with the outcome, failures included; rejects only
 * when `post.signal` fired (the round stops there, and the change stays owed).
 */
export async function send(post: Post): Promise<PostOutcome> {
  const started = performance.now();
  const elapsed = () => Math.round((performance.now() - started) * 10) / 10;
  const signal = AbortSignal.any([post.signal, AbortSignal.timeout(post.timeoutMs)]);
  let response: Response;
  try {
    response = await fetch(post.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'statehub-webhook/1', ...post.headers },
      body: post.body,
      redirect: 'manual',
      signal,
    });
  } catch (error) {
    post.signal.throwIfAborted();
    return { ok: false, status: null, ms: elapsed(), error: failure(error, post.timeoutMs) };
  }
  const ms = elapsed();
  // The status decides; the rest of the answer only has to be out of the way.
  await drain(response);
  const { status } = response;
  if (status >= 200 && status < 300) return { ok: true, status, ms, error: null };
  const error = status >= 300 && status < 400 ? `HTTP ${status}: redirects are not followed` : `HTTP ${status}${response.statusText ? ` ${response.statusText}` : ''}`;
  return { ok: false, status, ms, error: error.slice(0, MAX_ERROR_LENGTH) };
}

/** Reads the answer's body up to MAX_ANSWER_BYTES and drops the rest (closing that connection). */
async function drain(response: Response): Promise<void> {
  const reader = response.body?.getReader();
  if (!reader) return;
  try {
    for (let read = 0; read <= MAX_ANSWER_BYTES; ) {
      const { done, value } = await reader.read();
      if (done) return;
      read += value.byteLength;
    }
    await reader.cancel();
  } catch {
    // An answer cut short (timeout, reset) after its status: the status stands.
  }
}

/** What a failed request says: a timeout as such, else the underlying cause (`connect ECONNREFUSED 127.0.0.1:9`). */
function failure(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && error.name === 'TimeoutError') return `no answer within ${timeoutMs} ms`;
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  const message = cause instanceof Error ? cause.message || (cause as { code?: string }).code || cause.name : String(cause);
  return message.slice(0, MAX_ERROR_LENGTH);
}
