/**
 * The `http` connector: runs a job by POSTing `{ id, type, payload, attempt }` as JSON to a
 * service and takes its JSON answer as the result; health-checks the service with a GET and
 * reports the round trip. An unreachable service or a 5xx answer is a service fault (the
 * connector restarts); a 4xx answer fails the job only.
 */
import type { Json } from '../../../machines/json.js';
import { ServiceError, type ConnectorImplementation } from '../connector.js';
import { connectorSettings, elapsedMs, parseBody, serviceFetch } from './service-http.js';

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
    ...connectorSettings(options, 'http'),
    async checkHealth(signal) {
      const started = performance.now();
      const response = await serviceFetch(healthUrl, { headers, signal, timeoutMs: options.healthTimeoutMs ?? 5_000 });
      await response.arrayBuffer();
      if (!response.ok) throw new ServiceError(`health check ${healthUrl} answered ${response.status}`);
      return { latencyMs: elapsedMs(started) };
    },
    async run(job, { signal, progress }) {
      const response = await serviceFetch(options.url, {
        headers: { ...headers, accept: 'application/json' },
        json: { id: job.id, type: job.type, payload: job.payload, attempt: job.attempt },
        signal,
      });
      const text = await response.text();
      if (response.status >= 500) throw new ServiceError(`${options.url} answered ${response.status}: ${text.slice(0, 500)}`);
      if (!response.ok) throw new Error(`${options.url} answered ${response.status}: ${text.slice(0, 500)}`);
      progress(100);
      return parseBody(text) as Json;
    },
  };
}
