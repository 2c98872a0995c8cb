/**
 * A service that takes jobs for later, on a free local port: POST /jobs answers 202 with a status
 * document, GET /jobs/:id moves the job one step on each read (or the service POSTs each step to
 * the job's callback URL), POST /jobs/:id/cancel cancels it. Field names follow `fields`.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { onTestFinished } from 'vitest';

export interface AsyncServiceOptions {
  /** The status documents a job goes through after it is taken, the last one final. */
  steps: Array<Record<string, unknown>>;
  /** Field names: `id`, `statusUrl`, `callbackUrl` (defaults as the http connector's). */
  fields?: { id?: string; statusUrl?: string; callbackUrl?: string };
  /** Give the status URL in the answer (default true); otherwise the connector needs a template. */
  giveStatusUrl?: boolean;
  /** Answer status reads with 500 from this read on (1-based), this many times. */
  failReads?: { from: number; count: number };
}

export interface AsyncService {
  readonly origin: string;
  readonly jobsUrl: string;
  /** Request lines received, in order: `POST /jobs`, `GET /jobs/1`... */
  readonly requests: string[];
  /** Bodies POSTed to /jobs. */
  readonly submitted: Array<Record<string, unknown>>;
  /** What the service's callbacks got back (status codes), in order. */
  readonly callbackAnswers: number[];
}

export async function startAsyncService(options: AsyncServiceOptions): Promise<AsyncService> {
  const fields = { id: 'id', statusUrl: 'statusUrl', callbackUrl: 'callbackUrl', ...options.fields };
  const requests: string[] = [];
  const submitted: Array<Record<string, unknown>> = [];
  const callbackAnswers: number[] = [];
  const jobs = new Map<string, { step: number; cancelled: boolean }>();
  let reads = 0;
  const server = createServer(async (request, response) => {
    let text = '';
    for await (const chunk of request) text += chunk;
    const path = (request.url ?? '/').split('?')[0]!;
    requests.push(`${request.method} ${path}`);
    const send = (status: number, body: unknown) => response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (request.method === 'GET' && path === '/health') return send(200, { ok: true });
    if (request.method === 'POST' && path === '/jobs') {
      const body = JSON.parse(text) as Record<string, unknown>;
      submitted.push(body);
      const id = String(jobs.size + 1);
      jobs.set(id, { step: 0, cancelled: false });
      const callbackUrl = body[fields.callbackUrl];
      if (typeof callbackUrl === 'string') void postSteps(callbackUrl, id);
      return send(202, { [fields.id]: id, status: 'queued', ...(options.giveStatusUrl === false ? {} : { [fields.statusUrl]: `/jobs/${id}` }) });
    }
    const match = /^\/jobs\/(\d+)(\/cancel)?$/.exec(path);
    const job = match && jobs.get(match[1]!);
    if (!job) return send(404, { error: 'no such job' });
    if (request.method === 'POST' && match![2]) {
      job.cancelled = true;
      return send(200, { status: 'cancelled' });
    }
    reads += 1;
    const failing = options.failReads && reads >= options.failReads.from && reads < options.failReads.from + options.failReads.count;
    if (failing) return send(500, { error: 'status store down' });
    send(200, job.cancelled ? { status: 'cancelled' } : (options.steps[Math.min(job.step++, options.steps.length - 1)] as object));
  });
  /** Sends every step to the callback URL, one after the other, each once the last was answered. */
  async function postSteps(url: string, id: string): Promise<void> {
    for (const step of options.steps) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      if (jobs.get(id)?.cancelled) return;
      const answer = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(step) }).catch(() => undefined);
      callbackAnswers.push(answer?.status ?? 0);
    }
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  onTestFinished(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { origin, jobsUrl: `${origin}/jobs`, requests, submitted, callbackAnswers };
}
