/**
 * The one reading of HTTP answers every service connector shares (src/worker/connectors/service-http.ts):
 * each row of its table, against a real server.
 */
import { describe, expect, it } from 'vitest';
import { PermanentError, ServiceError } from 'statehub/worker';
import { NoAnswerError, callService, rateLimitBudget, serviceClient, type ServiceRequest } from '../../src/worker/connectors/service-http.js';
import { startFakeServer } from '../helpers/fake-server.js';

const JOB = { id: 'j1', type: 't', payload: null, attempt: 1, maxAttempts: 3, timeoutMs: null };

/** A server answering every request to /x with `status` and `body` (and `headers`). */
async function answering(status: number, body: unknown, headers: Record<string, string> = {}) {
  const server = await startFakeServer((_request, reply) => reply.json(status, body, headers));
  return { server, url: `${server.origin}/x` };
}

/** What `callService` throws, with its class, code and message. */
async function failure(url: string, request: ServiceRequest = {}) {
  const error = await callService(url, { method: 'POST', ...request }).then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  if (!(error instanceof Error)) throw new Error(`expected a failure, got ${String(error)}`);
  const { code, serviceFault } = error as { code?: string; serviceFault?: boolean };
  const kind = error instanceof PermanentError ? 'PermanentError' : error instanceof ServiceError ? 'ServiceError' : 'Error';
  return { kind, code, serviceFault, message: error.message };
}

describe('service-http: answers', () => {
  it('fails at once on 401 and 403 (auth, a service fault), with the service\'s message', async () => {
    for (const status of [401, 403]) {
      const { url } = await answering(status, { error: { message: 'Incorrect API key provided', code: 'invalid_api_key' } });
      expect(await failure(url)).toEqual({ kind: 'PermanentError', code: 'auth', serviceFault: true, message: `POST ${url} answered ${status}: Incorrect API key provided` });
    }
  });

  it('fails at once on another 4xx (bad_input), with the service\'s message in its usual shapes', async () => {
    for (const [status, body, said] of [
      [400, { error: 'model is required' }, 'model is required'],
      [404, { detail: 'Not Found' }, 'Not Found'],
      [422, { message: 'too long' }, 'too long'],
    ] as const) {
      const { url } = await answering(status, body);
      expect(await failure(url)).toEqual({ kind: 'PermanentError', code: 'bad_input', serviceFault: false, message: `POST ${url} answered ${status}: ${said}` });
    }
  });

  it('fails the attempt only on 408 and 409: the same request later may pass', async () => {
    for (const status of [408, 409]) {
      const { url } = await answering(status, { error: 'try again' });
      expect(await failure(url)).toEqual({ kind: 'Error', code: undefined, serviceFault: undefined, message: `POST ${url} answered ${status}: try again` });
    }
  });

  it('calls a 5xx a service fault', async () => {
    const { url } = await answering(503, { error: { message: 'overloaded' } });
    expect(await failure(url)).toMatchObject({ kind: 'ServiceError', message: `POST ${url} answered 503: overloaded` });
  });

  it('calls a 429 a service fault without a rate-limit budget, and a spent quota a permanent one', async () => {
    const limited = await answering(429, { error: 'slow down' }, { 'retry-after': '1' });
    expect(await failure(limited.url)).toEqual({ kind: 'ServiceError', code: undefined, serviceFault: undefined, message: `POST ${limited.url} answered 429: slow down` });

    const spent = await answering(429, { error: { message: 'You exceeded your current quota', type: 'insufficient_quota', code: 'insufficient_quota' } });
    const quota = rateLimitBudget(60_000, JOB, () => {});
    expect(await failure(spent.url, { rateLimit: quota })).toMatchObject({ kind: 'PermanentError', code: 'quota', serviceFault: true });
  });

  it('waits out a 429 within a budget, saying so, and fails the call as rate_limited past it', async () => {
    const server = await startFakeServer((_request, reply) => reply.json(200, { ok: true }));
    const url = `${server.origin}/x`;
    server.failNext('POST /x', { status: 429, headers: { 'retry-after-ms': '50' }, body: { error: 'slow down' } });
    const notes: string[] = [];
    const answer = await callService(url, { json: {}, rateLimit: rateLimitBudget(5_000, JOB, (message) => notes.push(message)) });
    expect(await answer.json()).toEqual({ ok: true });
    expect(notes).toEqual(['rate limited, retrying in 1 s']);
    expect(server.count('POST', '/x')).toBe(2);

    server.failNext('POST /x', { status: 429, headers: { 'retry-after': '30' }, body: { error: 'slow down' } });
    expect(await failure(url, { rateLimit: rateLimitBudget(5_000, JOB, () => {}) })).toEqual({
      kind: 'Error',
      code: 'rate_limited',
      serviceFault: undefined,
      message: `rate limited: POST ${url} answered 429: slow down; the service asks to wait 30 s, longer than this attempt may`,
    });
    // The job's own timeout bounds the budget too.
    server.failNext('POST /x', { status: 429, headers: { 'retry-after': '2' }, body: { error: 'slow down' } });
    expect(await failure(url, { rateLimit: rateLimitBudget(60_000, { ...JOB, timeoutMs: 1_000 }, () => {}) })).toMatchObject({ code: 'rate_limited' });
  });

  it('reads a 2xx body as JSON (null when empty), and calls one that is not JSON a service fault', async () => {
    const server = await startFakeServer((request, reply) => (request.path === '/empty' ? reply.bytes(200, Buffer.alloc(0), 'text/plain') : reply.bytes(200, Buffer.from('<html>'), 'text/html')));
    const client = serviceClient({ url: `${server.origin}/` });
    expect(await client.json('/empty')).toBeNull();
    await expect(client.json('/page')).rejects.toThrow(new ServiceError(`GET ${server.origin}/page answered with something that is not JSON: <html>`));
  });
});

describe('service-http: no answer', () => {
  it('says a service it cannot reach is unreachable, with the system\'s code', async () => {
    const { server, url } = await answering(200, {});
    await server.close();
    const error = await callService(url).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(NoAnswerError);
    expect(error).toMatchObject({ code: 'ECONNREFUSED', message: `cannot reach ${url}: ECONNREFUSED` });
  });

  it('gives up on a service silent for timeoutMs, before its answer or in the middle of it', async () => {
    const server = await startFakeServer((_request, reply) => reply.stream('application/x-ndjson', [{ text: '{"a":1}\n', token: true }, { text: '{"b":2}\n', token: true }]));
    const url = `${server.origin}/stream`;
    const before = server.pause('before-headers');
    const silent = callService(url, { timeoutMs: 300 }).catch((thrown: unknown) => thrown);
    await before.reached;
    const error = await silent;
    // Let the silent stream see its client gone before it goes on, so the next pause is the next stream's.
    await server.until(() => server.requests[0]!.abandoned, 'the silent request to be dropped');
    before.release();
    expect(error).toBeInstanceOf(NoAnswerError);
    expect(error).toMatchObject({ code: 'ETIMEDOUT', message: `GET ${url}: the service sent nothing for 0.3 s` });

    const midway = server.pause(1);
    const answer = await callService(url, { timeoutMs: 300 });
    const lines: string[] = [];
    const read = (async () => {
      for await (const line of answer.lines()) lines.push(line);
    })().catch((thrown: unknown) => thrown);
    await midway.reached;
    const cut = await read;
    midway.release();
    expect(lines).toEqual(['{"a":1}']);
    expect(cut).toBeInstanceOf(ServiceError);
    expect(cut).not.toBeInstanceOf(NoAnswerError);
    expect(cut).toMatchObject({ code: 'ETIMEDOUT', message: `GET ${url}: the service sent nothing for 0.3 s` });
  });

  it('says an answer cut off midway broke off, and rethrows the caller\'s own abort as it is', async () => {
    const server = await startFakeServer((_request, reply) => reply.stream('text/event-stream', [{ text: 'data: 1\n\n', token: true }, { text: 'data: 2\n\n', token: true }]));
    const url = `${server.origin}/events`;
    const midway = server.pause(1);
    const answer = await callService(url);
    const read = answer.text().catch((thrown: unknown) => thrown);
    await midway.reached;
    await server.close();
    expect(await read).toMatchObject({ message: expect.stringMatching(new RegExp(`^GET ${url} broke off mid-answer: `)) });
    midway.release();

    await server.restart();
    const controller = new AbortController();
    const held = server.pause('before-headers');
    const call = callService(url, { signal: controller.signal, timeoutMs: 5_000 }).catch((thrown: unknown) => thrown);
    await held.reached;
    const reason = new Error('job aborted');
    controller.abort(reason);
    expect(await call).toBe(reason);
    held.release();
  });
});

describe('service-http: clients', () => {
  it('sends the headers, the key as a bearer token, and JSON; keeps a path prefix', async () => {
    const server = await startFakeServer((_request, reply) => reply.json(200, { ok: true }));
    const client = serviceClient({ url: `${server.origin}/v1/`, key: 'sk-test', headers: { 'x-proxy': 'yes' } });
    expect(await client.json('/chat', { json: { hello: 1 } })).toEqual({ ok: true });
    const [request] = server.requests;
    expect(request).toMatchObject({ method: 'POST', path: '/v1/chat', body: { hello: 1 } });
    expect(request!.headers).toMatchObject({ authorization: 'Bearer sk-test', 'x-proxy': 'yes', 'content-type': 'application/json' });
  });
});
