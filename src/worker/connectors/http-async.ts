/**
 * Async HTTP jobs: a service that accepts a job and answers later. The http connector submits the
 * job, then learns its outcome either by polling a status URL or by a callback the service POSTs
 * to the worker, until the status says it is done or failed. Every field name and status value is
 * configurable, since each service names them its own way; the defaults follow the common shape
 * `{ id, status, progress, result, error, statusUrl }` with `202 Accepted` for a job taken for later
 * (RFC 9110, section 15.3.3).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Json } from '../../../machines/json.js';
import { ServiceError } from '../connector.js';
import { isRecord, parseJson, serviceFetch } from './service-http.js';

export interface HttpAsyncFields {
  /** The service's id for the job, in the submission's answer (fills `{id}` in `statusUrl`). */
  id: string;
  status: string;
  /** A number from 0 to 100 (or 0 to 1 with `progressScale: 1`). */
  progress: string;
  result: string;
  error: string;
  /** Where the status can be read, when the submission's answer says. */
  statusUrl: string;
  /** The field of the submitted body that tells the service where to POST its callbacks. */
  callbackUrl: string;
}

export interface HttpAsyncOptions {
  /** `poll`: read the status URL every `pollIntervalMs`. `callback`: wait for the service to POST it. */
  mode: 'poll' | 'callback';
  /** A template such as `http://svc/jobs/{id}`, used when the answer gives no status URL. */
  statusUrl?: string;
  /** A template such as `http://svc/jobs/{id}/cancel`: POSTed (best effort) when the job is stopped. */
  cancelUrl?: string;
  /** Between two polls (ms). Default 1,000; in callback mode, a safety-net poll when a status URL is known, default 30,000. */
  pollIntervalMs?: number;
  fields?: Partial<HttpAsyncFields>;
  /** What the progress field counts up to: 100 (percent, the default) or 1 (a fraction). */
  progressScale?: 100 | 1;
  /** Status values meaning done. Default `done`, `completed`, `succeeded`, `success`. */
  doneStatuses?: string[];
  /** Status values meaning failed. Default `failed`, `error`, `cancelled`, `canceled`. */
  failedStatuses?: string[];
  /** Callback mode: where the worker listens (default 127.0.0.1, a free port) and the URL the service must use (default that address). */
  callback?: { host?: string; port?: number; publicUrl?: string };
}

export const DEFAULT_FIELDS: HttpAsyncFields = {
  id: 'id',
  status: 'status',
  progress: 'progress',
  result: 'result',
  error: 'error',
  statusUrl: 'statusUrl',
  callbackUrl: 'callbackUrl',
};
const DONE = ['done', 'completed', 'succeeded', 'success'];
const FAILED = ['failed', 'error', 'cancelled', 'canceled'];
/** Consecutive failed polls before the service counts as broken (a ServiceError). */
const MAX_POLL_FAILURES = 3;
/** Largest callback body read (bytes). */
const MAX_CALLBACK_BYTES = 16 * 1024 * 1024;

/** Where a job stands, read from a status document. */
export type Outcome = { kind: 'done'; result: Json } | { kind: 'failed'; message: string } | { kind: 'pending'; progress: number | undefined };

/** Reads status documents with the configured field names and values. */
export class StatusReader {
  readonly fields: HttpAsyncFields;
  private readonly done: Set<string>;
  private readonly failed: Set<string>;

  constructor(options: HttpAsyncOptions) {
    this.fields = { ...DEFAULT_FIELDS, ...options.fields };
    this.done = new Set(options.doneStatuses ?? DONE);
    this.failed = new Set(options.failedStatuses ?? FAILED);
  }

  /** Whether an answer is a status document at all (a service may still answer some jobs at once). */
  isStatus(body: Json): boolean {
    return isRecord(body) && typeof body[this.fields.status] === 'string';
  }

  outcome(body: Json): Outcome {
    const document = isRecord(body) ? body : {};
    const status = String(document[this.fields.status] ?? '');
    if (this.done.has(status)) return { kind: 'done', result: this.fields.result in document ? (document[this.fields.result] as Json) : body };
    if (this.failed.has(status)) {
      const error = document[this.fields.error];
      const message = typeof error === 'string' ? error : isRecord(error) && typeof error.message === 'string' ? error.message : `the service says ${status}`;
      return { kind: 'failed', message };
    }
    const progress = document[this.fields.progress];
    return { kind: 'pending', progress: typeof progress === 'number' && Number.isFinite(progress) ? progress : undefined };
  }

  /** The URL to poll for a job the service answered with `body`, if there is one. */
  statusUrl(body: Json, template: string | undefined, base: string): string | undefined {
    const document = isRecord(body) ? body : {};
    const given = document[this.fields.statusUrl];
    if (typeof given === 'string' && given !== '') return new URL(given, base).href;
    return template === undefined ? undefined : fillTemplate(template, document[this.fields.id]);
  }
}

/** `{id}` in `template` replaced by the service's id for the job; throws when it gave none. */
export function fillTemplate(template: string, id: unknown): string {
  if (typeof id !== 'string' && typeof id !== 'number') throw new ServiceError(`the service gave no job id to fill ${template}`);
  return template.replaceAll('{id}', encodeURIComponent(String(id)));
}

/**
 * Polls `url` until the status is final. Progress is handed to `onProgress`. A poll that fails
 * (unreachable, 5xx) is tried again; MAX_POLL_FAILURES in a row are a ServiceError. Rejects with
 * the signal's reason when aborted. Its statuses are not read as service-http.ts reads a job's
 * answer: a 4xx here is about the job's status document, which the service forgot or hides
 * from us, so the attempt fails as an ordinary failure and a new attempt submits the job again.
 */
export async function pollUntilFinal(
  url: string,
  reader: StatusReader,
  options: { intervalMs: number; headers: Record<string, string>; signal: AbortSignal; onProgress: (progress: number) => void },
): Promise<Outcome & { kind: 'done' | 'failed' }> {
  let failures = 0;
  for (;;) {
    options.signal.throwIfAborted();
    try {
      const response = await serviceFetch(url, { headers: { ...options.headers, accept: 'application/json' }, signal: options.signal });
      const text = await response.text();
      if (response.status >= 500) throw new ServiceError(`status ${url} answered ${response.status}: ${text.slice(0, 500)}`);
      // Waiting longer cannot help (see above).
      if (!response.ok) return { kind: 'failed', message: `status ${url} answered ${response.status}: ${text.slice(0, 500)}` };
      failures = 0;
      const outcome = reader.outcome(parseJson(text));
      if (outcome.kind !== 'pending') return outcome;
      if (outcome.progress !== undefined) options.onProgress(outcome.progress);
    } catch (error) {
      if (options.signal.aborted) throw options.signal.reason;
      if (++failures >= MAX_POLL_FAILURES) {
        throw error instanceof ServiceError ? error : new ServiceError(`cannot read ${url}: ${(error as Error).message}`, { cause: error });
      }
    }
    await sleep(options.intervalMs, undefined, { signal: options.signal });
  }
}

/**
 * The worker's callback receiver: one HTTP server per address, shared by every connector that
 * listens there. Each waiting job has a random token in its URL; a POST there with a status
 * document is handed to the job, `204` when taken, `404` for an unknown token, `400` for a body
 * that is not JSON, `413` past MAX_CALLBACK_BYTES.
 */
export class CallbackReceiver {
  private static readonly byAddress = new Map<string, Promise<CallbackReceiver>>();
  private readonly waiting = new Map<string, (body: Json) => void>();

  private constructor(
    private readonly server: Server,
    readonly publicUrl: string,
  ) {
    server.on('request', (request, response) => {
      const token = /^\/callbacks\/([0-9a-f]{32})$/.exec(request.url ?? '')?.[1];
      const deliver = token === undefined ? undefined : this.waiting.get(token);
      if (request.method !== 'POST' || !deliver) {
        request.resume();
        response.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"no job waits for this callback"}');
        return;
      }
      readBody(request, MAX_CALLBACK_BYTES).then(
        (text) => {
          const body = parseJson(text);
          if (text !== '' && body === text) {
            response.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"the callback body is not JSON"}');
            return;
          }
          deliver(body);
          response.writeHead(204).end();
        },
        () => response.writeHead(413, { 'content-type': 'application/json' }).end('{"error":"the callback body is too large"}'),
      );
    });
  }

  /** The receiver at `host:port` (port 0: any free one), started on first use. */
  static at(options: { host?: string; port?: number; publicUrl?: string } = {}): Promise<CallbackReceiver> {
    const host = options.host ?? '127.0.0.1';
    const key = `${host}:${options.port ?? 0}:${options.publicUrl ?? ''}`;
    let receiver = CallbackReceiver.byAddress.get(key);
    if (!receiver) {
      receiver = new Promise<CallbackReceiver>((resolve, reject) => {
        const server = createServer();
        // Waiting jobs hold it open; otherwise it must not keep the worker alive.
        server.unref();
        server.once('error', reject);
        server.listen(options.port ?? 0, host, () => {
          const { port } = server.address() as AddressInfo;
          resolve(new CallbackReceiver(server, (options.publicUrl ?? `http://${host.includes(':') ? `[${host}]` : host}:${port}`).replace(/\/$/, '')));
        });
      });
      CallbackReceiver.byAddress.set(key, receiver);
      receiver.catch(() => CallbackReceiver.byAddress.delete(key));
    }
    return receiver;
  }

  /** A new callback URL and the status documents POSTed to it, until `stop()`. */
  open(onBody: (body: Json) => void): { url: string; stop: () => void } {
    const token = randomBytes(16).toString('hex');
    this.waiting.set(token, onBody);
    if (this.waiting.size === 1) this.server.ref();
    return {
      url: `${this.publicUrl}/callbacks/${token}`,
      stop: () => {
        if (this.waiting.delete(token) && this.waiting.size === 0) this.server.unref();
      },
    };
  }
}

async function readBody(request: AsyncIterable<Buffer>, maxBytes: number): Promise<string> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of request) {
    bytes += chunk.length;
    if (bytes > maxBytes) throw new Error('too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
