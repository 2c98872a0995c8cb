/** One check of a probe: bounded by its timeout, timed, and told as a CHECKED event tells it. */
import { performance } from 'node:perf_hooks';
import type { Checker } from './checkers/index.js';

export interface CheckOutcome {
  ok: boolean;
  /** Milliseconds from asking to the answer (or to the failure). */
  latencyMs: number;
  /** The checker's answer, or why the check failed, with no credentials in it. */
  message: string;
}

/**
 * Asks `checker` once. A check without an answer within `timeoutMs` failed: a dependency that
 * hangs reads unhealthy, not "still checking". After any failure the checker's connection is
 * dropped (`reset`, awaited), so the next check starts from a fresh one. Never rejects.
 * `secrets` (the URL and its password) are cut out of messages: a client library may quote them.
 */
export async function runCheck(checker: Checker, timeoutMs: number, secrets: readonly string[]): Promise<CheckOutcome> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const attempt = checker.check();
  // The answer that comes after the timeout is nobody's: it must not become an unhandled rejection.
  attempt.catch(() => {});
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs)));
  try {
    const message = await Promise.race([attempt, timeout]);
    return { ok: true, latencyMs: performance.now() - started, message: scrub(message, secrets) };
  } catch (error) {
    const latencyMs = performance.now() - started;
    await checker.reset();
    return { ok: false, latencyMs, message: scrub(failureMessage(error), secrets) };
  } finally {
    clearTimeout(timer);
  }
}

/** What a failure says: its message, else its code (`ECONNREFUSED`), else the messages it aggregates (a connection tried on several addresses). */
function failureMessage(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  if (error.message) return error.message;
  const { code } = error as { code?: unknown };
  if (typeof code === 'string') return code;
  if (error instanceof AggregateError && error.errors.length > 0) return [...new Set(error.errors.map(failureMessage))].join('; ');
  return error.name;
}

/** Passwords shorter than this are not cut out: a one-letter one would maim every message. */
const MIN_SECRET_LENGTH = 4;

function scrub(message: string, secrets: readonly string[]): string {
  let scrubbed = message;
  for (const secret of secrets) if (secret.length >= MIN_SECRET_LENGTH) scrubbed = scrubbed.split(secret).join('***');
  return scrubbed;
}
