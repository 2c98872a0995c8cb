/**
 * The `http` connector: runs a job by POSTing `{ id, type, payload, attempt }` as JSON to a
 * service and takes its JSON answer as the result; health-checks the service with a GET and
 * reports the round trip. Failures read as for every service connector (service-http.ts): an
 * unreachable service or a 5xx answer is a service fault (the connector restarts), a 4xx answer
 * fails the job at once (`bad_input`, or `auth` for 401 and 403). A 429 is waited out within
 * the attempt (`Retry-After`, up to `rateLimitWaitMs`): a job API that limits its clients says
 * so with it (RFC 6585, section 4), and a busy service is not a broken one.
 *
 * With `async`, a service may take a job for later: an answer that is a status document (or a
 * `202`) is followed by polling its status URL or waiting for the service's callback until the
 * status is final (http-async.ts).
 */
import type { Json } from '../../../machines/json.js';
import { ServiceError, type ConnectorImplementation, type RunContext } from '../connector.js';
import { CallbackReceiver, StatusReader, fillTemplate, pollUntilFinal, type HttpAsyncOptions, type Outcome } from './http-async.js';
import { callService, connectorSettings, elapsedMs, isRecord, onAbort, parseJson, rateLimitBudget, serviceFetch, type RateLimitOptions } from './service-http.js';

export interface HttpConnectorOptions extends RateLimitOptions {
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
  /** Jobs the service takes for later: how to learn their outcome. Default: every answer is the outcome. */
  async?: HttpAsyncOptions;
}

export function httpConnector(options: HttpConnectorOptions): ConnectorImplementation {
  const healthUrl = options.healthUrl ?? new URL('/health', options.url).href;
  const headers = { ...options.headers };
  const reader = options.async && new StatusReader(options.async);
  return {
    ...connectorSettings(options, 'http'),
    async checkHealth(signal) {
      const started = performance.now();
      // Any 2xx body will do: a health endpoint need not answer JSON.
      await (await callService(healthUrl, { headers, signal, timeoutMs: options.healthTimeoutMs ?? 5_000 })).text();
      return { latencyMs: elapsedMs(started) };
    },
    async run(job, context) {
      const callback = options.async?.mode === 'callback' ? await waitForCallback(options.async) : undefined;
      try {
        const body = { id: job.id, type: job.type, payload: job.payload, attempt: job.attempt, ...(callback ? { [callback.field]: callback.url } : {}) };
        const rateLimit = rateLimitBudget(options.rateLimitWaitMs, job, (message) => context.progress(0, message));
        const response = await callService(options.url, { headers: { ...headers, accept: 'application/json' }, json: body, signal: context.signal, rateLimit });
        // The service's answer as it is, JSON or not: the result is what it says.
        const answer = parseJson(await response.text());
        if (!options.async || (response.status !== 202 && !reader?.isStatus(answer))) {
          context.progress(100);
          return answer;
        }
        return await awaitOutcome(options, reader as StatusReader, answer, context, callback);
      } finally {
        callback?.stop();
      }
    },
  };
}

interface Callback {
  /** The field of the submitted body that carries the URL. */
  field: string;
  url: string;
  /** Resolves with the first status document POSTed there that is final (pending ones report progress). */
  final: (onProgress: (progress: number) => void) => Promise<Outcome & { kind: 'done' | 'failed' }>;
  stop: () => void;
}

/** A callback URL for one job, opened before the job is submitted so that no callback is missed. */
async function waitForCallback(async: HttpAsyncOptions): Promise<Callback> {
  const reader = new StatusReader(async);
  const receiver = await CallbackReceiver.at(async.callback);
  const bodies: Json[] = [];
  let wake: (() => void) | undefined;
  const { url, stop } = receiver.open((body) => {
    bodies.push(body);
    wake?.();
  });
  return {
    field: reader.fields.callbackUrl,
    url,
    stop,
    final: async (onProgress) => {
      for (;;) {
        for (const body of bodies.splice(0)) {
          const outcome = reader.outcome(body);
          if (outcome.kind !== 'pending') return outcome;
          if (outcome.progress !== undefined) onProgress(outcome.progress);
        }
        await new Promise<void>((resolve) => (wake = resolve));
      }
    },
  };
}

/**
 * The outcome of a job the service took for later: by callback (with a slow poll beside it when
 * a status URL is known, in case a callback is lost) or by polling. Cancel POSTs `cancelUrl`.
 */
async function awaitOutcome(options: HttpConnectorOptions, reader: StatusReader, answer: Json, { signal, progress }: RunContext, callback: Callback | undefined): Promise<Json> {
  const async = options.async as HttpAsyncOptions;
  const headers = { ...options.headers };
  const scale = async.progressScale === 1 ? 100 : 1;
  const onProgress = (value: number) => progress(Math.min(100, Math.max(0, value * scale)));
  const immediate = reader.outcome(answer);
  const statusUrl = reader.statusUrl(answer, async.statusUrl, options.url);
  const stopCancel = async.cancelUrl === undefined ? undefined : cancelOnAbort(signal, fillTemplate(async.cancelUrl, idOf(answer, reader)), headers);
  try {
    if (immediate.kind !== 'pending') return finish(immediate, progress);
    if (immediate.progress !== undefined) onProgress(immediate.progress);
    const waits: Array<Promise<Outcome & { kind: 'done' | 'failed' }>> = [];
    const stopWaiting = new AbortController();
    const waitSignal = AbortSignal.any([signal, stopWaiting.signal]);
    if (callback) waits.push(callback.final(onProgress));
    if (statusUrl) {
      const intervalMs = async.pollIntervalMs ?? (callback ? 30_000 : 1_000);
      waits.push(pollUntilFinal(statusUrl, reader, { intervalMs, headers, signal: waitSignal, onProgress }));
    } else if (!callback) {
      throw new ServiceError(`${options.url} took the job for later but gave no status URL (field "${reader.fields.statusUrl}", or set async.statusUrl)`);
    }
    const aborted = new Promise<never>((_, reject) => {
      if (signal.aborted) reject(signal.reason);
      signal.addEventListener('abort', () => reject(signal.reason), { once: true });
    });
    try {
      return finish(await Promise.race([...waits, aborted]), progress);
    } finally {
      stopWaiting.abort();
      for (const wait of waits) wait.catch(() => {});
    }
  } finally {
    stopCancel?.();
  }
}

function finish(outcome: Outcome & { kind: 'done' | 'failed' }, progress: (percent: number) => void): Json {
  if (outcome.kind === 'failed') throw new Error(outcome.message);
  progress(100);
  return outcome.result;
}

function idOf(answer: Json, reader: StatusReader): unknown {
  return isRecord(answer) ? answer[reader.fields.id] : undefined;
}

/** When the job is stopped, tells the service (best effort: the job is stopped here either way). */
function cancelOnAbort(signal: AbortSignal, url: string, headers: Record<string, string>): () => void {
  return onAbort(signal, () => void serviceFetch(url, { method: 'POST', headers, timeoutMs: 5_000 }).then((answer) => answer.discard(), () => {}));
}
