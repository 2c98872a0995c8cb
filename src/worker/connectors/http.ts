/**
 * The `http` connector: runs a job by POSTing `{ id, type, payload, attempt }` as JSON to a
 * service and takes its JSON answer as the result; health-checks the service with a GET and
 * reports the round trip. An unreachable service or a 5xx answer is a service fault (the
 * connector restarts); a 4xx answer fails the job only.
 */
import type { Json } from '../../../machines/json.js';
import { ServiceError, type ConnectorImplementation } from '../connector.js';

export interface HttpConnectorOptions {
  /** Where jobs are POSTed. */
  url: string;
  /** What the health check GETs. Default: `url`'s origin + `/health`. */
  healthUrl?: string;
  /** The job type it serves. Default `http`. */
  type?: string;
  id?: string;
  headers?: Record<string, string>;
  /** Re-check health this often while idle. Default 15 s; null never. */
  healthIntervalMs?: number | null;
  /** A health check not answered within this fails. Default 5 s. */
  healthTimeoutMs?: number;
  /** First wait before restarting after a fault; doubles per consecutive failure. Default 1 s. */
  restartDelayMs?: number;
}

export function httpConnector(options: HttpConnectorOptions): ConnectorImplementation {
  const healthUrl = options.healthUrl ?? new URL('/health', options.url).href;
  const headers = { ...options.headers };
  return {
    type: options.type ?? 'http',
    ...(options.id === undefined ? {} : { id: options.id }),
    healthIntervalMs: options.healthIntervalMs === undefined ? 15_000 : options.healthIntervalMs,
    ...(options.restartDelayMs === undefined ? {} : { restartDelayMs: options.restartDelayMs }),
    async checkHealth(signal) {
      const started = performance.now();
      const timeoutMs = options.healthTimeoutMs ?? 5_000;
      const response = await request(healthUrl, { method: 'GET', headers, signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) }).catch(
        (error: unknown) => {
          if (!signal.aborted && (error as Error).name === 'TimeoutError') throw new ServiceError(`health check ${healthUrl} gave no answer within ${timeoutMs} ms`);
          throw error;
        },
      );
      await response.arrayBuffer();
      if (!response.ok) throw new ServiceError(`health check ${healthUrl} answered ${response.status}`);
      return { latencyMs: Math.round((performance.now() - started) * 10) / 10 };
    },
    async run(job, { signal, progress }) {
      const response = await request(options.url, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ id: job.id, type: job.type, payload: job.payload, attempt: job.attempt }),
        signal,
      });
      const text = await response.text();
      if (response.status >= 500) throw new ServiceError(`${options.url} answered ${response.status}: ${text.slice(0, 500)}`);
      if (!response.ok) throw new Error(`${options.url} answered ${response.status}: ${text.slice(0, 500)}`);
      progress(100);
      return parseResult(text);
    },
  };
}

async function request(url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (error) {
    if (init.signal?.aborted) throw error;
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new ServiceError(`cannot reach ${url}: ${cause?.code ?? cause?.message ?? (error as Error).message}`, { cause: error });
  }
}

function parseResult(text: string): Json {
  if (text.trim() === '') return null;
  try {
    return JSON.parse(text) as Json;
  } catch {
    return text;
  }
}
