/**
 * HTTP from a connector to the service it adapts. Every built-in connector to an HTTP service
 * (http, comfyui, a1111, openai, ollama) goes through this file, so that they read their
 * settings alike, call with the same timeouts, and turn what a call meets into what the job and
 * the connector should do about it (machines/connector.ts) by one table:
 *
 * | what happened                                        | thrown                                        | job                   | connector |
 * | ---------------------------------------------------- | --------------------------------------------- | --------------------- | --------- |
 * | 401, 403 (credentials refused)                       | PermanentError `auth`, serviceFault           | fails at once         | error     |
 * | 429 `insufficient_quota` (in its code or type)       | PermanentError `quota`, serviceFault          | fails at once         | error     |
 * | 429 in a call with a rate-limit budget, wait within  | (waits `Retry-After`, says so, calls again)   | still running         | stays     |
 * | 429 in a call with a rate-limit budget, wait beyond  | Error `rate_limited`                          | retried (its backoff) | stays     |
 * | 429 in a call without one                            | ServiceError                                  | retried               | error     |
 * | 408, 409                                             | Error                                         | retried               | stays     |
 * | other 4xx                                            | PermanentError `bad_input`, the service's message | fails at once     | stays     |
 * | 5xx                                                  | ServiceError                                  | retried               | error     |
 * | no answer: refused, reset, silent past `timeoutMs`   | NoAnswerError (a ServiceError), code `ECONNREFUSED`, `ETIMEDOUT`... | retried | error |
 * | an answer cut off, or silent past `timeoutMs` midway | ServiceError (code `ETIMEDOUT` when silent)   | retried               | error     |
 * | a 2xx answer that should be JSON and is not          | ServiceError                                  | retried               | error     |
 *
 * Messages say `METHOD URL answered STATUS: <the service's own message>` (from its error body,
 * see serverMessage; a connector may read its service's shapes better) or what became of the
 * connection; never the headers (keys) nor the request body. 408 and 409 are the service saying
 * it could not take this request now (it timed out waiting for it, or a conflicting change): the
 * same request later may pass, and nothing says the service is broken.
 *
 * Why a 429 is waited out within the attempt rather than by the job's backoff: the job machine
 * retries after its own delay (machines/job.ts, `retryDelay`), which knows nothing of the
 * server's `Retry-After`; carrying that delay to the hub would change the job machine and the
 * worker protocol. Waiting inside the attempt needs neither, does not spend one of the job's
 * attempts on a service that is merely busy, keeps the job `running` with a progress message
 * that says why it waits ("rate limited, retrying in 20 s"), and stays cancellable. The wait is
 * bounded by the attempt's budget (rateLimitBudget: `rateLimitWaitMs`, 60 s by default, and the
 * job's timeout); beyond it the attempt fails as an ordinary failure. Each connector decides
 * whether its calls get a budget: those whose services rate-limit as a matter of course (http,
 * openai, ollama) do; comfyui and a1111 do not (see their files).
 *
 * It also holds how connectors read their options (connectorSettings, serviceClient,
 * serviceTimeouts) and the health-check policy they share (ServiceHealth): a connector that
 * starts waits for its service to come up, so a server still loading keeps it `starting`
 * rather than cycling through `error`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import type { HealthReport } from '../../../machines/connector.js';
import type { Json } from '../../../machines/json.js';
import { PermanentError, ServiceError, type ConnectorImplementation, type JobRun, type RunContext } from '../connector.js';
import { lines } from './streams.js';

/** What every connector to an HTTP service takes. */
export interface ServiceConnectorOptions {
  /** The service's root, e.g. http://127.0.0.1:8188 (a path prefix behind a proxy is kept). Each connector says whether it has a default. */
  url?: string;
  /** Sent as `Authorization: Bearer <key>`; never logged. */
  key?: string;
  /** The job type it serves; each connector has its own default. */
  type?: string;
  id?: string;
  /** Sent with every request (e.g. a proxy's auth). */
  headers?: Record<string, string>;
  /** Re-check health (and the capabilities it reports) this often while idle; null never. Each connector says its default. */
  healthIntervalMs?: number | null;
  /** First wait before restarting after a fault; doubles per consecutive failure. Default 1 s. */
  restartDelayMs?: number;
  timeouts?: ServiceTimeouts;
}

/** How long a connector waits on its service; each connector documents its defaults. */
export interface ServiceTimeouts {
  /**
   * The longest the service may stay silent on one call: before its answer starts, and between
   * two pieces of it (a stream). Each connector says which calls it bounds: a generation that
   * answers only at its end is left to the job's own timeout.
   */
  requestMs?: number;
  /** One health check's request. */
  healthMs?: number;
  /** While starting, how long to wait for a service that does not answer yet before going to error. */
  startMs?: number;
}

/** What connectors whose jobs wait out rate limits (429) take. */
export interface RateLimitOptions {
  /** The longest one attempt waits out rate limits, in all; also bounded by the job's timeout. Default 60 s. */
  rateLimitWaitMs?: number;
}

export const DEFAULT_TIMEOUTS: Required<ServiceTimeouts> = { requestMs: 30_000, healthMs: 5_000, startMs: 120_000 };

/** For model servers (openai, ollama), whose every call may be a generation: the first token may wait minutes for the model to load. */
export const GENERATION_TIMEOUTS: ServiceTimeouts = { requestMs: 5 * 60_000 };

export const DEFAULT_RATE_LIMIT_WAIT_MS = 60_000;

/**
 * A connector to an HTTP service: its settings from `options`, its health checks (`probe`) under
 * the ServiceHealth policy, which also watches its runs.
 */
export function serviceConnector(
  options: ServiceConnectorOptions,
  defaults: { type: string; healthIntervalMs?: number },
  parts: { probe(signal: AbortSignal): Promise<HealthReport>; run: ConnectorImplementation['run'] },
): ConnectorImplementation {
  const health = new ServiceHealth(serviceTimeouts(options).startMs);
  return {
    ...connectorSettings(options, defaults.type, defaults.healthIntervalMs),
    checkHealth: (signal) => health.check(signal, parts.probe),
    run: (job, context) => health.watch(parts.run(job, context)),
  };
}

/** The implementation fields a connector takes from its options as they are. */
export function connectorSettings(
  options: Pick<ServiceConnectorOptions, 'type' | 'id' | 'healthIntervalMs' | 'restartDelayMs'>,
  defaultType: string,
  defaultHealthIntervalMs = 15_000,
): Pick<ConnectorImplementation, 'type' | 'id' | 'healthIntervalMs' | 'restartDelayMs'> {
  return {
    type: options.type ?? defaultType,
    ...(options.id === undefined ? {} : { id: options.id }),
    healthIntervalMs: options.healthIntervalMs === undefined ? defaultHealthIntervalMs : options.healthIntervalMs,
    ...(options.restartDelayMs === undefined ? {} : { restartDelayMs: options.restartDelayMs }),
  };
}

/** The connector's timeouts: its options', else the connector's own defaults, else DEFAULT_TIMEOUTS. */
export function serviceTimeouts(options: Pick<ServiceConnectorOptions, 'timeouts'>, defaults: ServiceTimeouts = {}): Required<ServiceTimeouts> {
  return { ...DEFAULT_TIMEOUTS, ...defaults, ...options.timeouts };
}

/**
 * The client of a connector's service: its URL (or the connector's default), its headers, its
 * key as a bearer token, its timeouts (the connector's defaults under its options'), and how to
 * read the service's error bodies.
 */
export function serviceClient(options: ServiceConnectorOptions, defaults: { url?: string; timeouts?: ServiceTimeouts; describe?: Describe } = {}): ServiceClient {
  const url = options.url ?? defaults.url;
  if (url === undefined) throw new Error('the connector needs the URL of its service');
  return new ServiceClient(url, {
    headers: { ...options.headers, ...(options.key ? { authorization: `Bearer ${options.key}` } : {}) },
    timeouts: serviceTimeouts(options, defaults.timeouts),
    ...(defaults.describe ? { describe: defaults.describe } : {}),
  });
}

/** Finds the service's own message in an error body (parsed as parseJson does). */
export type Describe = (body: Json) => string | undefined;

export interface ServiceRequest {
  /** Default GET, or POST with `json`. */
  method?: string;
  headers?: Record<string, string>;
  /** Sent as JSON. */
  json?: unknown;
  /** The caller's abort (job cancelled, connector stopping): rethrown as is, never turned into a ServiceError. */
  signal?: AbortSignal;
  /** The longest silence of the service: before its answer starts, or between two pieces of it. Absent: no limit of its own. */
  timeoutMs?: number;
  /** Where a 429 is waited out (see the table above). Absent: a 429 is a ServiceError. */
  rateLimit?: RateLimitBudget;
  /** Reads the service's message in an error body; default serverMessage. */
  describe?: Describe;
}

/** An answer, its status and headers read; its body is read once, by one of the methods, with the silence timer running. */
export interface ServiceAnswer {
  /** `METHOD URL`, as messages name the call. */
  readonly what: string;
  readonly status: number;
  readonly statusText: string;
  readonly ok: boolean;
  readonly headers: Headers;
  chunks(): AsyncGenerator<Uint8Array>;
  lines(): AsyncGenerator<string>;
  text(): Promise<string>;
  /** The body as JSON; null when empty; a ServiceError when it is something else. */
  json(): Promise<Json>;
  /** Leaves the body unread. */
  discard(): Promise<void>;
}

/**
 * One request, whatever its status: a service that cannot be reached, or stays silent past
 * `timeoutMs`, throws NoAnswerError. For callers that read the status themselves; the others
 * use callService.
 */
export async function serviceFetch(url: string, request: ServiceRequest = {}): Promise<ServiceAnswer> {
  const { method = request.json === undefined ? 'GET' : 'POST', headers = {}, json, signal, timeoutMs } = request;
  const what = `${method} ${url}`;
  const silence = timeoutMs === undefined ? undefined : new SilenceTimer(timeoutMs);
  const signals = [signal, silence?.signal].filter((item): item is AbortSignal => item !== undefined);
  try {
    const response = await fetch(url, {
      method,
      headers: json === undefined ? headers : { ...headers, 'content-type': 'application/json' },
      ...(json === undefined ? {} : { body: JSON.stringify(json) }),
      ...(signals.length === 0 ? {} : { signal: AbortSignal.any(signals) }),
    });
    return new Answer(response, what, signal, silence);
  } catch (error) {
    silence?.stop();
    throw noAnswer(error, url, what, signal, silence);
  }
}

/** One call, answered 2xx; every other outcome thrown as the table above says, a 429 waited out within `rateLimit`. */
export async function callService(url: string, request: ServiceRequest = {}): Promise<ServiceAnswer> {
  for (let fallbackMs = 1_000; ; fallbackMs *= 2) {
    const answer = await serviceFetch(url, request);
    if (answer.ok) return answer;
    const failure = answerError(answer, await answer.text(), request.describe);
    const budget = request.rateLimit;
    if (!(failure instanceof RateLimited) || !budget) throw failure;
    const waitMs = failure.retryAfterMs ?? fallbackMs;
    const seconds = Math.ceil(waitMs / 1_000);
    if (Date.now() + waitMs > budget.until) {
      throw coded(new Error(`rate limited: ${failure.message}; the service asks to wait ${seconds} s, longer than this attempt may`), 'rate_limited');
    }
    budget.note(`rate limited, retrying in ${seconds} s`);
    await sleep(waitMs, undefined, { signal: request.signal }).catch((error: unknown) => {
      throw request.signal?.aborted ? request.signal.reason : error;
    });
  }
}

/** A service's root URL, headers and timeouts: calls to its paths, with failures that say what failed and the server's message. */
export class ServiceClient {
  /** Sent with every call (and usable for the service's other protocols, e.g. a WebSocket). */
  readonly headers: Record<string, string>;
  /** Each call says which of them bounds it (`timeoutMs`); health checks take `healthMs`. */
  readonly timeouts: Required<ServiceTimeouts>;
  private readonly describe: Describe;

  constructor(
    readonly root: string,
    settings: { headers?: Record<string, string>; timeouts?: Required<ServiceTimeouts>; describe?: Describe } = {},
  ) {
    this.headers = settings.headers ?? {};
    this.timeouts = settings.timeouts ?? DEFAULT_TIMEOUTS;
    this.describe = settings.describe ?? serverMessage;
  }

  url(path: string): string {
    return this.root.replace(/\/+$/, '') + path;
  }

  /** `request.describe` reads the error body of this call instead of the client's. */
  call(path: string, request: ServiceRequest = {}): Promise<ServiceAnswer> {
    return callService(this.url(path), { describe: this.describe, ...request, headers: { ...this.headers, ...request.headers } });
  }

  async json(path: string, request: ServiceRequest = {}): Promise<Json> {
    return (await this.call(path, request)).json();
  }

  /** A health check's GET, bounded by `timeouts.healthMs`: the answer's JSON and the round trip in ms. */
  async probe(path: string, signal: AbortSignal): Promise<{ json: Json; latencyMs: number }> {
    const started = performance.now();
    const json = await this.json(path, { signal, timeoutMs: this.timeouts.healthMs });
    return { json, latencyMs: elapsedMs(started) };
  }
}

/** Waiting out rate limits within one attempt. */
export interface RateLimitBudget {
  /** No wait may end after this (epoch ms). */
  until: number;
  /** Says why the attempt waits (a progress message). */
  note(message: string): void;
}

/** An attempt's budget: `waitMs` (default 60 s) from now, never past what its job may run. */
export function rateLimitBudget(waitMs: number | undefined, job: JobRun, note: (message: string) => void): RateLimitBudget {
  return { until: Date.now() + Math.min(waitMs ?? DEFAULT_RATE_LIMIT_WAIT_MS, job.timeoutMs ?? Infinity), note };
}

/** One attempt of a job on a service whose calls wait out rate limits: its calls (with its signal and budget) and its progress. */
export interface Attempt {
  readonly signal: AbortSignal;
  call(method: 'GET' | 'POST', path: string, body?: Json): Promise<ServiceAnswer>;
  progress(percent: number, message?: string): void;
}

/** Starts an attempt, its calls bounded by `timeouts.requestMs`; a rate-limit wait is said as a message beside the progress reached so far. */
export function startAttempt(client: ServiceClient, job: JobRun, context: RunContext, options: RateLimitOptions): Attempt {
  let percent = 0;
  const rateLimit = rateLimitBudget(options.rateLimitWaitMs, job, (message) => context.progress(percent, message));
  const timeoutMs = client.timeouts.requestMs;
  return {
    signal: context.signal,
    call: (method, path, body) => client.call(path, { method, ...(body === undefined ? {} : { json: body }), signal: context.signal, timeoutMs, rateLimit }),
    progress: (value, message) => {
      percent = value;
      context.progress(value, message);
    },
  };
}

/** A job's payload for a service with several operations: `{ operation, body }`, body being the API's own request. */
export function readOperation<const T extends readonly [string, ...string[]]>(payload: Json, operations: T): { operation: T[number]; body: Record<string, Json> } {
  const parsed = z.object({ operation: z.enum(operations), body: z.record(z.string(), z.json()) }).safeParse(payload);
  if (!parsed.success) throw new PermanentError(`the payload must be { operation: ${operations.join(' | ')}, body: {...} }: ${z.prettifyError(parsed.error)}`, { code: 'bad_input' });
  return parsed.data as { operation: T[number]; body: Record<string, Json> };
}

/** Runs `action` when `signal` aborts (at once if it has); returns what stops listening. */
export function onAbort(signal: AbortSignal, action: () => void): () => void {
  if (signal.aborted) {
    action();
    return () => {};
  }
  signal.addEventListener('abort', action, { once: true });
  return () => signal.removeEventListener('abort', action);
}

/** The service gave no answer at all: refused, reset, or silent past the timeout. While it starts, worth waiting for. */
export class NoAnswerError extends ServiceError {
  /** Node's system error code (`ECONNREFUSED`, `ETIMEDOUT` when silent...): kept in the job's and the connector's error. */
  readonly code: string;

  constructor(message: string, code: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NoAnswerError';
    this.code = code;
  }
}

/** A 429 that is not about quota: a ServiceError unless the call has a budget to wait it out. */
class RateLimited extends ServiceError {
  constructor(
    message: string,
    readonly retryAfterMs: number | undefined,
  ) {
    super(message);
  }
}

/** What a 4xx or 5xx answer means for the job (the table above), saying what failed and the server's own message, as `describe` finds it. */
function answerError(answer: ServiceAnswer, text: string, describe: Describe = serverMessage): Error {
  const { status } = answer;
  const body = parseJson(text);
  const message = `${answer.what} answered ${status}: ${describe(body) ?? (text.trim().slice(0, 500) || answer.statusText)}`;
  if (status === 401 || status === 403) return new PermanentError(message, { code: 'auth', serviceFault: true });
  if (status === 429) {
    // A billing error, e.g. OpenAI's `insufficient_quota` (https://platform.openai.com/docs/guides/error-codes): waiting cannot help.
    const error = errorFields(body);
    if (error?.code === 'insufficient_quota' || error?.type === 'insufficient_quota') return new PermanentError(message, { code: 'quota', serviceFault: true });
    return new RateLimited(message, retryAfterMs(answer.headers));
  }
  if (status === 408 || status === 409) return new Error(message);
  if (status < 500) return new PermanentError(message, { code: 'bad_input' });
  return new ServiceError(message);
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

/** The message a JSON error body carries in its most common shapes: `{ error: "..." }`, `{ error: { message } }`, `{ detail: "..." }`, `{ message }`. */
export function serverMessage(body: unknown): string | undefined {
  if (typeof body === 'string') return body.trim().slice(0, 500) || undefined;
  if (!isRecord(body)) return undefined;
  for (const key of ['error', 'detail', 'message']) {
    const value = body[key];
    if (typeof value === 'string' && value.trim() !== '') return value;
    if (isRecord(value) && typeof value.message === 'string') return value.message;
  }
  return undefined;
}

/**
 * The message, code and type of an error body as OpenAI (`{ error: { message, code, type } }`,
 * https://platform.openai.com/docs/guides/error-codes) or Ollama (`{ error: "..." }`,
 * https://docs.ollama.com/api/errors) send it, also inside a stream; undefined for other bodies.
 */
export function apiError(text: string): { message: string; code?: string; type?: string } | undefined {
  const body = parseJson(text);
  const error = isRecord(body) ? body.error : undefined;
  if (typeof error !== 'string' && !isRecord(error)) return undefined;
  return { message: serverMessage(body) ?? JSON.stringify(error), ...errorFields(body) };
}

/** The `code` and `type` strings of an `{ error: { code, type } }` body. */
function errorFields(body: Json): { code?: string; type?: string } | undefined {
  const error = isRecord(body) ? body.error : undefined;
  if (!isRecord(error)) return undefined;
  return { ...(typeof error.code === 'string' ? { code: error.code } : {}), ...(typeof error.type === 'string' ? { type: error.type } : {}) };
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A body's JSON; its text when it is not JSON; null when empty. */
export function parseJson(text: string): Json {
  if (text.trim() === '') return null;
  try {
    return JSON.parse(text) as Json;
  } catch {
    return text;
  }
}

/** Milliseconds since `started` (a performance.now() reading), to a tenth. */
export function elapsedMs(started: number): number {
  return Math.round((performance.now() - started) * 10) / 10;
}

class Answer implements ServiceAnswer {
  readonly status: number;
  readonly statusText: string;
  readonly ok: boolean;
  readonly headers: Headers;

  constructor(
    private readonly response: Response,
    readonly what: string,
    private readonly signal: AbortSignal | undefined,
    private readonly silence: SilenceTimer | undefined,
  ) {
    this.status = response.status;
    this.statusText = response.statusText;
    this.ok = response.ok;
    this.headers = response.headers;
  }

  async *chunks(): AsyncGenerator<Uint8Array> {
    try {
      for await (const chunk of this.response.body ?? []) {
        this.silence?.touch();
        yield chunk;
      }
    } catch (error) {
      throw cutOff(error, this.what, this.signal, this.silence);
    } finally {
      this.silence?.stop();
    }
  }

  lines(): AsyncGenerator<string> {
    return lines(this.chunks());
  }

  async text(): Promise<string> {
    const decoder = new TextDecoder();
    let all = '';
    for await (const chunk of this.chunks()) all += decoder.decode(chunk, { stream: true });
    return all + decoder.decode();
  }

  async json(): Promise<Json> {
    const text = await this.text();
    if (text.trim() === '') return null;
    try {
      return JSON.parse(text) as Json;
    } catch {
      throw new ServiceError(`${this.what} answered with something that is not JSON: ${text.slice(0, 200)}`);
    }
  }

  async discard(): Promise<void> {
    this.silence?.stop();
    await this.response.body?.cancel().catch(() => {});
  }
}

/** Why a request got no answer: the caller's own abort as it is, else a NoAnswerError. */
function noAnswer(error: unknown, url: string, what: string, signal: AbortSignal | undefined, silence: SilenceTimer | undefined): unknown {
  if (signal?.aborted) return signal.reason;
  if (silence?.fired) return new NoAnswerError(silent(what, silence), 'ETIMEDOUT', { cause: error });
  const { code = 'unreachable', message } = causeOf(error);
  // A system error (ECONNREFUSED, ENOTFOUND...) says it best by its code; others (a connection the server dropped mid-request) by their message.
  if (code.startsWith('E')) return new NoAnswerError(`cannot reach ${url}: ${code}`, code, { cause: error });
  return new NoAnswerError(`no answer from ${url}: ${message}`, code, { cause: error });
}

/** Why an answer's body stopped before its end: the caller's own abort as it is, else a ServiceError. */
function cutOff(error: unknown, what: string, signal: AbortSignal | undefined, silence: SilenceTimer | undefined): unknown {
  if (signal?.aborted) return signal.reason ?? error;
  if (silence?.fired) return coded(new ServiceError(silent(what, silence), { cause: error }), 'ETIMEDOUT');
  const { code, message } = causeOf(error);
  return coded(new ServiceError(`${what} broke off mid-answer: ${code ?? message}`, { cause: error }), code);
}

function silent(what: string, silence: SilenceTimer): string {
  return `${what}: the service sent nothing for ${silence.ms / 1_000} s`;
}

/** The system error under a fetch failure (fetch says `fetch failed`, its cause says why). */
function causeOf(error: unknown): { code?: string; message: string } {
  const cause = (error as { cause?: { code?: unknown; message?: unknown } } | undefined)?.cause;
  const code = typeof cause?.code === 'string' ? cause.code : undefined;
  const message = typeof cause?.message === 'string' ? cause.message : String((error as Error | undefined)?.message ?? error);
  return code === undefined ? { message } : { code, message };
}

function coded<T extends Error>(error: T, code: string | undefined): T {
  return code === undefined ? error : Object.assign(error, { code });
}

/** Aborts its signal when `touch` has not been called for `ms`. */
class SilenceTimer {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;

  constructor(readonly ms: number) {
    this.timer = setTimeout(() => this.controller.abort(new Error(`silent for ${ms} ms`)), ms);
    // A body nobody reads must not keep the process up: firing only aborts the request.
    this.timer.unref();
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

/**
 * When a connector's health checks wait for its service. Until the service has answered (at
 * first, and again after a fault) a check that finds nobody tries again, for up to
 * `timeouts.startMs`: the connector stays `starting` while the server boots. Once it has
 * answered, a check that finds it gone fails at once, so an idle connector does not go on
 * taking jobs for a service that is away.
 */
class ServiceHealth {
  private answered = false;

  constructor(private readonly startMs: number) {}

  /** Runs `probe` (one health request, resolving with the report) under this policy. */
  async check(signal: AbortSignal, probe: (signal: AbortSignal) => Promise<HealthReport>): Promise<HealthReport> {
    const patient = !this.answered;
    this.answered = false;
    const deadline = performance.now() + this.startMs;
    for (let delay = 100; ; delay = Math.min(delay * 2, 2_000)) {
      try {
        const report = await probe(signal);
        this.answered = true;
        return report;
      } catch (error) {
        if (!patient || !(error instanceof NoAnswerError) || performance.now() + delay > deadline) throw this.gaveUp(error, patient);
      }
      await sleep(delay, undefined, { signal });
    }
  }

  /** Runs a job's work; a ServiceError from it means the service must be waited for again at the next start. */
  async watch<T>(work: Promise<T>): Promise<T> {
    try {
      return await work;
    } catch (error) {
      if (error instanceof ServiceError) this.answered = false;
      throw error;
    }
  }

  private gaveUp(error: unknown, patient: boolean): unknown {
    if (!patient || !(error instanceof NoAnswerError)) return error;
    return new NoAnswerError(`${error.message} (waited ${this.startMs} ms for it to start)`, error.code, { cause: error });
  }
}
