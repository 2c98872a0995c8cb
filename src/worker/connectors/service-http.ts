/**
 * HTTP to the services that connectors wrap, with failures said in the connector's terms: a
 * service that gives no answer (refused, reset, silent past a timeout) or answers 5xx (or 408,
 * 429: it cannot take work now) is broken (ServiceError: the attempt fails and the connector
 * restarts with backoff); another 4xx answer refuses this job
 * (PermanentError `bad_input`, or `auth` with the connector sent to error, since every job would
 * be refused alike until someone fixes the credentials).
 *
 * It also holds the health-check policy the connectors share (ServiceHealth): a connector that
 * starts waits for its service to come up, so a server still loading its models keeps it
 * `starting` rather than cycling through `error`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { HealthReport } from '../../../machines/connector.js';
import type { Json } from '../../../machines/json.js';
import { PermanentError, ServiceError, type ConnectorImplementation } from '../connector.js';

/** What every connector to an HTTP service takes. */
export interface ServiceConnectorOptions {
  /** The service's root, e.g. http://127.0.0.1:8188 (a path prefix behind a proxy is kept). */
  url: string;
  /** The job type it serves; each connector has its own default. */
  type?: string;
  id?: string;
  /** Sent with every request (e.g. a proxy's auth). */
  headers?: Record<string, string>;
  /** Re-check health this often while idle. Default 15 s; null never. */
  healthIntervalMs?: number | null;
  /** First wait before restarting after a fault; doubles per consecutive failure. Default 1 s. */
  restartDelayMs?: number;
  timeouts?: ServiceTimeouts;
}

/** The timeouts of a service connector that its options leave out. */
export const DEFAULT_TIMEOUTS: Required<ServiceTimeouts> = { requestMs: 30_000, healthMs: 5_000, startMs: 120_000 };

/**
 * A connector to an HTTP service: its settings from `options`, its health checks (`probe`: one
 * request to the service) under the ServiceHealth policy, which also watches its runs.
 */
export function serviceConnector(
  options: ServiceConnectorOptions,
  defaultType: string,
  startMs: number,
  parts: { probe(signal: AbortSignal): Promise<HealthReport>; run: ConnectorImplementation['run'] },
): ConnectorImplementation {
  const health = new ServiceHealth(startMs);
  return {
    ...connectorSettings(options, defaultType),
    checkHealth: (signal) => health.check(signal, parts.probe),
    run: (job, context) => health.watch(parts.run(job, context)),
  };
}

/** The implementation fields a service connector takes from its options as they are. */
export function connectorSettings(options: ServiceConnectorOptions, defaultType: string): Pick<ConnectorImplementation, 'type' | 'id' | 'healthIntervalMs' | 'restartDelayMs'> {
  return {
    type: options.type ?? defaultType,
    ...(options.id === undefined ? {} : { id: options.id }),
    healthIntervalMs: options.healthIntervalMs === undefined ? 15_000 : options.healthIntervalMs,
    ...(options.restartDelayMs === undefined ? {} : { restartDelayMs: options.restartDelayMs }),
  };
}

/** How long a connector waits on its service; each connector documents its defaults. */
export interface ServiceTimeouts {
  /** One HTTP call (not a generation, which the job's own timeout bounds). */
  requestMs?: number;
  /** One health check's request. */
  healthMs?: number;
  /** While starting, how long to wait for a service that does not answer yet before going to error. */
  startMs?: number;
}

/** The service gave no answer at all: refused, reset, or silent past the timeout. While it starts, worth waiting for. */
export class NoAnswerError extends ServiceError {
  /** Node's system error code (`ECONNREFUSED`...) or `timeout`: kept in the job's and the connector's error. */
  readonly code: string;

  constructor(message: string, code: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NoAnswerError';
    this.code = code;
  }
}

export interface ServiceRequest {
  method?: string;
  headers?: Record<string, string>;
  /** Sent as JSON. */
  json?: unknown;
  /** The caller's abort (job cancelled, connector stopping): rethrown as is, never turned into a ServiceError. */
  signal?: AbortSignal;
  /** No answer (headers) within this is a NoAnswerError. Absent: no limit of its own. */
  timeoutMs?: number;
}

/** `base` (a service's root URL, maybe with a path prefix) + `path`, e.g. `http://gpu:8188` + `/prompt`. */
function serviceUrl(base: string, path: string): string {
  return base.replace(/\/+$/, '') + path;
}

/** One request; a service that cannot be reached or does not answer in time throws NoAnswerError. */
export async function serviceFetch(url: string, request: ServiceRequest = {}): Promise<Response> {
  const { method = request.json === undefined ? 'GET' : 'POST', headers = {}, json, signal, timeoutMs } = request;
  const timeout = timeoutMs === undefined ? undefined : AbortSignal.timeout(timeoutMs);
  const signals = [signal, timeout].filter((item): item is AbortSignal => item !== undefined);
  try {
    return await fetch(url, {
      method,
      headers: json === undefined ? headers : { ...headers, 'content-type': 'application/json' },
      ...(json === undefined ? {} : { body: JSON.stringify(json) }),
      ...(signals.length === 0 ? {} : { signal: AbortSignal.any(signals) }),
    });
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    if (timeout?.aborted) throw new NoAnswerError(`${url} gave no answer within ${timeoutMs} ms`, 'timeout', { cause: error });
    const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
    const code = typeof cause?.code === 'string' ? cause.code : 'unreachable';
    // A system error (ECONNREFUSED, ENOTFOUND...) says it best by its code; others (a connection the server dropped mid-request) by their message.
    if (code.startsWith('E')) throw new NoAnswerError(`cannot reach ${url}: ${code}`, code, { cause: error });
    throw new NoAnswerError(`no answer from ${url}: ${String(cause?.message ?? (error as Error).message)}`, code, { cause: error });
  }
}

/**
 * The answer's JSON (its text when it is not JSON; null when empty). A 4xx or 5xx answer throws
 * (see answerError).
 */
async function readAnswer(response: Response, what: string, describe?: (body: unknown) => string | undefined): Promise<unknown> {
  const text = await response.text();
  if (!response.ok) throw answerError(response, text, what, describe);
  return parseJson(text);
}

/**
 * What a 4xx or 5xx answer means for the job, saying `what` failed and the server's own message,
 * as `describe` finds it in the body (default: the usual `error` / `detail` / `message` fields).
 */
export function answerError(response: Response, text: string, what: string, describe: (body: unknown) => string | undefined = serverMessage): Error {
  const message = `${what} answered ${response.status}: ${describe(parseJson(text)) ?? (text.trim().slice(0, 500) || response.statusText)}`;
  if (response.status >= 500 || response.status === 408 || response.status === 429) return new ServiceError(message);
  if (response.status === 401 || response.status === 403) return new PermanentError(message, { code: 'auth', serviceFault: true });
  return new PermanentError(message, { code: 'bad_input' });
}

/** A service's root URL and headers: requests to its paths, with failures that say what failed and the server's message. */
export class ServiceClient {
  constructor(
    readonly root: string,
    private readonly headers: Record<string, string> = {},
    /** Finds the server's message in an error body; default: serverMessage. */
    private readonly describe: (body: unknown) => string | undefined = serverMessage,
  ) {}

  url(path: string): string {
    return serviceUrl(this.root, path);
  }

  fetch(path: string, request: ServiceRequest = {}): Promise<Response> {
    return serviceFetch(this.url(path), { ...request, headers: { ...this.headers, ...request.headers } });
  }

  /** The answer's JSON; `describe` reads the error body of this request instead of the client's. */
  async json(path: string, request: ServiceRequest = {}, describe = this.describe): Promise<unknown> {
    const method = request.method ?? (request.json === undefined ? 'GET' : 'POST');
    return readAnswer(await this.fetch(path, request), `${method} ${this.url(path)}`, describe);
  }
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
