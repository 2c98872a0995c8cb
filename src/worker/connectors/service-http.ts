/**
 * HTTP calls from a connector to the service it adapts (an OpenAI-compatible API, Ollama...):
 * JSON in, JSON or a stream out, and every way a call can go wrong turned into what the job and
 * the connector should do about it (machines/connector.ts):
 *
 * | what happened                            | thrown                                         | job                    | connector |
 * | ---------------------------------------- | ---------------------------------------------- | ---------------------- | --------- |
 * | 401, 403 (key refused)                   | PermanentError `auth`, serviceFault            | fails at once          | error     |
 * | 429 `insufficient_quota` (code or type)  | PermanentError `quota`, serviceFault           | fails at once          | error     |
 * | 429, its wait within the attempt's budget | (waits `Retry-After`, then calls again)        | still running          | stays     |
 * | 429, its wait beyond the budget          | Error `rate_limited`                           | retried (its backoff)  | stays     |
 * | 408, 409                                 | Error                                          | retried                | stays     |
 * | other 4xx                                | PermanentError `bad_input`, the API's message  | fails at once          | stays     |
 * | 5xx, unreachable, cut off, silent        | ServiceError                                   | retried                | error     |
 *
 * Error bodies are read the way both APIs document them: OpenAI's `{ error: { message, type,
 * code } }` (https://platform.openai.com/docs/guides/error-codes) and Ollama's `{ error: "..." }`
 * (https://docs.ollama.com/api/errors). Messages name the method
 * and URL, never the key or the request body.
 *
 * Why a 429 is waited out here rather than by the job's backoff: the job machine retries after
 * its own delay (machines/job.ts, `retryDelay`), which knows nothing of the server's
 * `Retry-After`. Carrying the server's delay to the hub would change the job machine and the
 * worker protocol. Waiting inside the attempt needs neither, does not spend one of the job's
 * attempts on a service that is merely busy, keeps the job `running` with a progress message
 * that says why it waits ("rate limited, retrying in 20 s"), and stays cancellable (the wait
 * ends with the job's AbortSignal). The connector is held meanwhile, but any other job on it
 * would meet the same limit. The wait is bounded: a `Retry-After` beyond the attempt's budget
 * (its job's timeout, and at most `rateLimitWaitMs`, 60 s by default) fails the attempt as an
 * ordinary failure, and the job is retried after its own backoff.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Json } from '../../../machines/json.js';
import { z } from 'zod';
import { PermanentError, ServiceError, type ConnectorImplementation, type JobRun, type RunContext } from '../connector.js';
import { lines } from './streams.js';

/** What the connectors of HTTP services take. */
export interface ServiceConnectorOptions {
  /** The service's base URL. */
  url?: string;
  /** Sent as `Authorization: Bearer <key>`; never logged. */
  key?: string;
  /** The job type it serves. */
  type?: string;
  id?: string;
  /** Sent with every request. */
  headers?: Record<string, string>;
  /** Re-check health (and the capabilities it reports) this often while idle; null never. */
  healthIntervalMs?: number | null;
  timeouts?: ServiceTimeouts;
  /** The longest an attempt waits out rate limits (429), in all; also bounded by the job's timeout. Default 60 s. */
  rateLimitWaitMs?: number;
  /** First wait before restarting after a fault; doubles per consecutive failure. Default 1 s. */
  restartDelayMs?: number;
}

export interface ServiceTimeouts {
  /** A health check not answered within this fails. Default 5 s. */
  healthMs?: number;
  /**
   * The longest silence of the service, before an answer starts or within a stream, before it
   * counts as broken. Default 5 min: a model may take that long to load. (A generation as a whole
   * is bounded by its job's timeout.)
   */
  idleMs?: number;
}

/** The settings a connector's calls share, with the defaults filled in. */
export interface ServiceSettings {
  url: string;
  headers: Record<string, string>;
  healthTimeoutMs: number;
  idleTimeoutMs: number;
  rateLimitWaitMs: number;
}

export function serviceSettings(options: ServiceConnectorOptions, defaultUrl: string): ServiceSettings {
  return {
    url: (options.url ?? defaultUrl).replace(/\/+$/, ''),
    headers: { ...options.headers, ...(options.key ? { authorization: `Bearer ${options.key}` } : {}) },
    healthTimeoutMs: options.timeouts?.healthMs ?? 5_000,
    idleTimeoutMs: options.timeouts?.idleMs ?? 5 * 60_000,
    rateLimitWaitMs: options.rateLimitWaitMs ?? 60_000,
  };
}

/** The fields of a ConnectorImplementation that come straight from the options. */
export function connectorIdentity(options: ServiceConnectorOptions, defaults: { type: string; healthIntervalMs: number }) {
  return {
    type: options.type ?? defaults.type,
    ...(options.id === undefined ? {} : { id: options.id }),
    healthIntervalMs: options.healthIntervalMs === undefined ? defaults.healthIntervalMs : options.healthIntervalMs,
    ...(options.restartDelayMs === undefined ? {} : { restartDelayMs: options.restartDelayMs }),
  } satisfies Partial<ConnectorImplementation>;
}

/** Waiting out rate limits within one attempt. */
export interface RateLimitBudget {
  /** No wait may end after this (epoch ms). */
  until: number;
  /** Says why the attempt waits (a progress message). */
  note(message: string): void;
}

/** A job's payload for a service with several operations: `{ operation, body }`, body being the API's own request. */
export function readOperation<const T extends readonly [string, ...string[]]>(payload: Json, operations: T): { operation: T[number]; body: Record<string, Json> } {
  const parsed = z.object({ operation: z.enum(operations), body: z.record(z.string(), z.json()) }).safeParse(payload);
  if (!parsed.success) throw new PermanentError(`the payload must be { operation: ${operations.join(' | ')}, body: {...} }: ${z.prettifyError(parsed.error)}`, { code: 'bad_input' });
  return parsed.data as { operation: T[number]; body: Record<string, Json> };
}

/** One attempt of a job on the service: its calls (with its signal and rate-limit budget) and its progress. */
export interface Attempt {
  readonly signal: AbortSignal;
  call(method: 'GET' | 'POST', path: string, body?: Json): Promise<ServiceAnswer>;
  progress(percent: number, message?: string): void;
}

/**
 * Starts an attempt. Its rate-limit budget is `rateLimitWaitMs` from now, and never longer
 * than its job may run; a wait is said as a message beside the progress reached so far.
 */
export function startAttempt(settings: ServiceSettings, job: JobRun, context: RunContext): Attempt {
  let percent = 0;
  const rateLimit: RateLimitBudget = {
    until: Date.now() + Math.min(settings.rateLimitWaitMs, job.timeoutMs ?? Infinity),
    note: (message) => context.progress(percent, message),
  };
  return {
    signal: context.signal,
    call: (method, path, body) =>
      callService({ method, url: settings.url + path, headers: settings.headers, ...(body === undefined ? {} : { body }), signal: context.signal, idleTimeoutMs: settings.idleTimeoutMs, rateLimit }),
    progress: (value, message) => {
      percent = value;
      context.progress(value, message);
    },
  };
}

export interface ServiceCall {
  method: 'GET' | 'POST';
  url: string;
  headers: Record<string, string>;
  /** Sent as JSON. */
  body?: Json;
  /** The job's (or the health check's): aborting it ends the call. */
  signal: AbortSignal;
  /** The longest silence before the answer starts or between two chunks of it. */
  idleTimeoutMs: number;
  /** Without one, a 429 fails the call at once. */
  rateLimit?: RateLimitBudget;
}

/** A 2xx answer. Read its body once, as lines or as JSON; the idle timer runs while it is read. */
export interface ServiceAnswer {
  lines(): AsyncGenerator<string>;
  json(): Promise<Json>;
}

/** Calls the service, waiting out rate limits within the call's budget. Throws as the table above says. */
export async function callService(call: ServiceCall): Promise<ServiceAnswer> {
  for (let fallbackMs = 1_000; ; fallbackMs *= 2) {
    try {
      return await callOnce(call);
    } catch (error) {
      if (!(error instanceof RateLimited)) throw error;
      const waitMs = error.retryAfterMs ?? fallbackMs;
      const seconds = Math.ceil(waitMs / 1_000);
      if (!call.rateLimit || Date.now() + waitMs > call.rateLimit.until) {
        throw coded(new Error(`rate limited: ${error.message}; the service asks to wait ${seconds} s, longer than this attempt may`), 'rate_limited');
      }
      call.rateLimit.note(`rate limited, retrying in ${seconds} s`);
      await sleep(waitMs, undefined, { signal: call.signal });
    }
  }
}

/** GETs `url` for a health check: its JSON and the round trip in ms. */
export async function healthGet(url: string, settings: ServiceSettings, signal: AbortSignal): Promise<{ json: Json; latencyMs: number }> {
  const started = performance.now();
  const answer = await callService({ method: 'GET', url, headers: settings.headers, signal, idleTimeoutMs: settings.healthTimeoutMs });
  const json = await answer.json();
  return { json, latencyMs: Math.round((performance.now() - started) * 10) / 10 };
}

/**
 * The wait a 429 asks for, in ms: OpenAI's `retry-after-ms`, else the standard `Retry-After`
 * as delay-seconds or an HTTP-date (RFC 9110, section 10.2.3); undefined when neither says.
 */
export function retryAfterMs(headers: Headers, now = Date.now()): number | undefined {
  const ms = Number(headers.get('retry-after-ms') ?? Number.NaN);
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const value = headers.get('retry-after')?.trim();
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1_000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

class RateLimited extends Error {
  constructor(message: string, readonly retryAfterMs: number | undefined) {
    super(message);
  }
}

async function callOnce(call: ServiceCall): Promise<ServiceAnswer> {
  const idle = new IdleTimer(call.idleTimeoutMs);
  const what = `${call.method} ${call.url}`;
  let response: Response;
  try {
    response = await fetch(call.url, {
      method: call.method,
      headers: { ...call.headers, ...(call.body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(call.body === undefined ? {} : { body: JSON.stringify(call.body) }),
      signal: AbortSignal.any([call.signal, idle.signal]),
    });
  } catch (error) {
    idle.stop();
    throw transportFailure(error, call, idle, `cannot reach ${call.url}`);
  }
  const answer = readAnswer(response, call, idle);
  if (response.ok) return answer;
  throw statusFailure(response, await answer.text(), what);
}

function readAnswer(response: Response, call: ServiceCall, idle: IdleTimer): ServiceAnswer & { text(): Promise<string> } {
  async function* chunks(): AsyncGenerator<Uint8Array> {
    try {
      for await (const chunk of response.body ?? []) {
        idle.touch();
        yield chunk;
      }
    } catch (error) {
      throw transportFailure(error, call, idle, `${call.method} ${call.url} broke off mid-answer`);
    } finally {
      idle.stop();
    }
  }
  const text = async () => {
    const decoder = new TextDecoder();
    let all = '';
    for await (const chunk of chunks()) all += decoder.decode(chunk, { stream: true });
    return all + decoder.decode();
  };
  return {
    lines: () => lines(chunks()),
    text,
    json: async () => parseJson(await text(), `${call.method} ${call.url}`),
  };
}

function parseJson(text: string, what: string): Json {
  try {
    return JSON.parse(text) as Json;
  } catch {
    throw new ServiceError(`${what} answered with something that is not JSON: ${text.slice(0, 200)}`);
  }
}

/** Why a call that got no whole answer failed: the job's own abort as it is, else the service's fault. */
function transportFailure(error: unknown, call: ServiceCall, idle: IdleTimer, what: string): unknown {
  if (call.signal.aborted) return call.signal.reason ?? error;
  if (idle.fired) return coded(new ServiceError(`${call.method} ${call.url}: the service sent nothing for ${idle.ms / 1_000} s`), 'ETIMEDOUT');
  const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
  const code = typeof cause?.code === 'string' ? cause.code : undefined;
  const detail = code ?? (typeof cause?.message === 'string' ? cause.message : (error as Error).message);
  return coded(new ServiceError(`${what}: ${detail}`, { cause: error }), code);
}

function statusFailure(response: Response, text: string, what: string): Error {
  const { status } = response;
  const api = apiError(text) ?? { message: text.trim().slice(0, 500) || response.statusText };
  const message = `${api.message} (${status} from ${what})`;
  if (status === 401 || status === 403) return new PermanentError(message, { code: 'auth', serviceFault: true });
  // OpenAI's billing errors say so in the code, or only in the type (https://platform.openai.com/docs/guides/error-codes).
  if (status === 429 && (api.code === 'insufficient_quota' || api.type === 'insufficient_quota')) return new PermanentError(message, { code: 'quota', serviceFault: true });
  if (status === 429) return new RateLimited(message, retryAfterMs(response.headers));
  if (status === 408 || status === 409) return new Error(message);
  if (status < 500) return new PermanentError(message, { code: 'bad_input' });
  return new ServiceError(message);
}

/** The message, code and type of an error body as OpenAI (`{ error: { message, code, type } }`) or Ollama (`{ error: "..." }`) send it. */
export function apiError(text: string): { message: string; code?: string; type?: string } | undefined {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return undefined;
  }
  const error = (body as { error?: unknown } | null)?.error;
  if (typeof error === 'string') return { message: error };
  if (!error || typeof error !== 'object') return undefined;
  const { message, code, type } = error as { message?: unknown; code?: unknown; type?: unknown };
  return {
    message: typeof message === 'string' ? message : JSON.stringify(error),
    ...(typeof code === 'string' ? { code } : {}),
    ...(typeof type === 'string' ? { type } : {}),
  };
}

function coded<T extends Error>(error: T, code: string | undefined): T {
  return code === undefined ? error : Object.assign(error, { code });
}

/** Aborts its signal when `touch` has not been called for `ms`. */
class IdleTimer {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;

  constructor(readonly ms: number) {
    this.timer = setTimeout(() => this.controller.abort(new Error(`silent for ${ms} ms`)), ms);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get fired(): boolean {
    return this.controller.signal.aborted;
  }

  touch(): void {
    this.timer.refresh();
  }

  stop(): void {
    clearTimeout(this.timer);
  }
}
