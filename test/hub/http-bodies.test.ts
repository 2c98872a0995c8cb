/**
 * Request bodies at the edges: a body over the limit gets its 413 read by the client (the hub
 * discards the rest of the body, up to a bound, instead of cutting the connection), and routes
 * that take no body accept an empty one.
 */
import { connect, type Socket } from 'node:net';
import { Worker } from 'node:worker_threads';
import Fastify, { type FastifyError } from 'fastify';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { Hub } from 'statehub';
import { DISCARD_BOUNDS, jsonBodies } from '../../src/hub/body.js';
import { api, byId, snapshot, submit, testHub, type ApiAnswer } from '../helpers/hub.js';

const MiB = 1024 * 1024;
const EMPTY_BODY = 'the body is empty; send a JSON object';

function expectError(answer: ApiAnswer, status: number, code: string): { code: string; message: string; details?: any } {
  expect(answer.status, JSON.stringify(answer.body)).toBe(status);
  expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
  expect(answer.body).toEqual({ error: expect.objectContaining({ code, message: expect.any(String) }) });
  return answer.body.error;
}

function expectTooLarge(body: unknown, limit: number): void {
  expect(body).toEqual({ error: { code: 'payload_too_large', message: expect.stringContaining(String(limit)), details: { limit } } });
}

/** The hub still answers on a new connection, and holds no job. */
async function expectUsableAndNoJob(hub: Hub): Promise<void> {
  expect((await snapshot(hub, '?kinds=job')).records).toEqual([]);
  const job = await submit(hub, { type: 'after' });
  expect((await snapshot(hub, '?kinds=job')).records.map((record) => record.id)).toEqual([job.id]);
}

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: any;
}

/**
 * One HTTP/1.1 connection driven by hand, so a test decides when each byte is sent: what a client
 * does after an early answer is the point of these tests, and `fetch` hides it.
 */
class RawConnection {
  private received = Buffer.alloc(0);
  private waiting: (() => void) | undefined;
  closed = false;
  error: Error | undefined;
  /** Bytes the kernel took from us (write callbacks without an error). */
  written = 0;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.received = Buffer.concat([this.received, chunk]);
      this.waiting?.();
    });
    socket.on('error', (error) => {
      this.error = error;
    });
    socket.on('close', () => {
      this.closed = true;
      this.waiting?.();
    });
  }

  static async open(port: number): Promise<RawConnection> {
    const socket = connect(port, '127.0.0.1');
    onTestFinished(() => {
      socket.destroy();
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawConnection(socket);
  }

  /** Resolves once the kernel took `data`; rejects if the connection failed. */
  write(data: string | Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.write(data, (error) => {
        if (error) return reject(error);
        this.written += typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
        resolve();
      });
    });
  }

  /** The next whole response (with a Content-Length); rejects if the connection closes first. */
  async response(): Promise<RawResponse> {
    for (;;) {
      const parsed = this.take();
      if (parsed) return parsed;
      if (this.closed) throw new Error(`the connection closed before a whole response came (${this.error?.message ?? 'no error'}); got ${JSON.stringify(this.received.toString())}`);
      await new Promise<void>((resolve) => (this.waiting = resolve));
    }
  }

  /** Resolves once the connection closed. */
  async closedByPeer(): Promise<void> {
    while (!this.closed) await new Promise<void>((resolve) => (this.waiting = resolve));
  }

  private take(): RawResponse | undefined {
    const end = this.received.indexOf('\r\n\r\n');
    if (end < 0) return undefined;
    const [statusLine, ...lines] = this.received.subarray(0, end).toString('latin1').split('\r\n');
    const headers = Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
    const length = Number(headers['content-length']);
    if (!Number.isInteger(length)) throw new Error(`a response without a Content-Length: ${statusLine}`);
    if (this.received.length < end + 4 + length) return undefined;
    const text = this.received.subarray(end + 4, end + 4 + length).toString('utf8');
    this.received = this.received.subarray(end + 4 + length);
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { status: Number(statusLine!.split(' ')[1]), headers, body };
  }
}

const filler = (bytes: number) => new Uint8Array(bytes).fill(0x78); // 'x'
const chunk = (bytes: number) => Buffer.concat([Buffer.from(`${bytes.toString(16)}\r\n`), filler(bytes), Buffer.from('\r\n')]);
const post = (path: string, headers: string) => `POST ${path} HTTP/1.1\r\nHost: hub\r\nContent-Type: application/json\r\n${headers}\r\n`;
const getSnapshot = 'GET /api/snapshot?kinds=job HTTP/1.1\r\nHost: hub\r\n\r\n';

/**
 * `times` POSTs of a `bytes` body with Node's fetch, from another thread: with its own event loop,
 * the client is still writing when the answer comes, as it is against a hub in another process.
 * Resolves with `<status> <error code>` per request, or the error `fetch` threw.
 */
async function fetchFromThread(
  url: string,
  options: { bytes: number; times: number; chunked: boolean; headers?: Record<string, string> },
): Promise<string[]> {
  const code = `
    const { parentPort, workerData: { url, bytes, times, chunked, headers } } = require('node:worker_threads');
    async function once() {
      const init = { method: 'POST', headers: { 'content-type': 'application/json', ...headers } };
      if (chunked) {
        let sent = 0;
        init.duplex = 'half';
        init.body = new ReadableStream({
          pull(controller) {
            if (sent >= bytes) return controller.close();
            sent += 65536;
            controller.enqueue(new Uint8Array(65536).fill(120));
          },
        });
      } else {
        init.body = new Uint8Array(bytes).fill(120);
      }
      try {
        const response = await fetch(url, init);
        const body = await response.json();
        return response.status + ' ' + body.error?.code + ' ' + body.error?.details?.limit;
      } catch (error) {
        return 'fetch threw: ' + error.message + ' (' + (error.cause?.code ?? error.cause?.message) + ')';
      }
    }
    (async () => {
      const results = [];
      for (let index = 0; index < times; index += 1) results.push(await once());
      parentPort.postMessage(results);
    })();
  `;
  const worker = new Worker(code, { eval: true, workerData: { url, headers: {}, ...options } });
  onTestFinished(() => worker.terminate().then(() => undefined));
  return new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
}

describe('a body over the limit gets its 413, not a broken connection', () => {
  it.each([
    ['with a Content-Length', false],
    ['chunked, without a Content-Length', true],
  ])('Node fetch reads the 413 for a 5 MB body (%s), and nothing is stored', async (_name, chunked) => {
    const hub = await testHub();
    const results = await fetchFromThread(`${hub.url}/api/jobs`, { bytes: 5 * MiB, times: 12, chunked });
    expect(results).toEqual(Array.from({ length: 12 }, () => `413 payload_too_large ${MiB}`));
    await expectUsableAndNoJob(hub);
  });

  it('any answer given before the body is read reaches Node fetch: 415 for a 5 MB text/plain body, 401 for one without a token', async () => {
    const hub = await testHub({ tokens: { secret: 'admin' } });
    const url = `${hub.url}/api/jobs`;
    const bearer = { authorization: 'Bearer secret' };
    for (const chunked of [false, true]) {
      const unsupported = await fetchFromThread(url, { bytes: 5 * MiB, times: 4, chunked, headers: { ...bearer, 'content-type': 'text/plain' } });
      expect(unsupported).toEqual(Array.from({ length: 4 }, () => '415 unsupported_media_type undefined'));
      const stranger = await fetchFromThread(url, { bytes: 5 * MiB, times: 4, chunked });
      expect(stranger).toEqual(Array.from({ length: 4 }, () => '401 unauthorized undefined'));
    }
    expect((await api(hub, 'GET', '/api/snapshot?kinds=job', undefined, bearer)).body.records).toEqual([]);
  });

  it('reads and discards the rest of a Content-Length body after its 413: the same connection answers the next request', async () => {
    const hub = await testHub();
    const connection = await RawConnection.open(hub.port);
    await connection.write(post('/api/jobs', `Content-Length: ${5 * MiB}\r\n`));
    await connection.write(filler(2 * MiB));

    // The answer comes before the body is all sent...
    const answer = await connection.response();
    expect(answer.status).toBe(413);
    expect(answer.headers['content-type']).toMatch(/^application\/json/);
    expectTooLarge(answer.body, MiB);

    // ...and the hub keeps reading: the rest goes through, then the next request on this connection.
    await connection.write(filler(3 * MiB));
    await connection.write(getSnapshot);
    const next = await connection.response();
    expect(next.status).toBe(200);
    expect(next.body.records).toEqual([]);
    await expectUsableAndNoJob(hub);
  });

  it('reads and discards the rest of a chunked body that grows over the limit: the same connection answers the next request', async () => {
    const hub = await testHub({ bodyLimit: 1_000 });
    const connection = await RawConnection.open(hub.port);
    await connection.write(post('/api/jobs', 'Transfer-Encoding: chunked\r\n'));
    await connection.write(chunk(600));
    await connection.write(chunk(600));

    const answer = await connection.response();
    expect(answer.status).toBe(413);
    expectTooLarge(answer.body, 1_000);

    for (let index = 0; index < 32; index += 1) await connection.write(chunk(64 * 1024));
    await connection.write('0\r\n\r\n');
    await connection.write(getSnapshot);
    const next = await connection.response();
    expect(next.status).toBe(200);
    expect(next.body.records).toEqual([]);
    await expectUsableAndNoJob(hub);
  });

  it('closes the connection once it discarded more than its bound, and only then', async () => {
    const hub = await testHub({ bodyLimit: 1_000 });
    const connection = await RawConnection.open(hub.port);
    await connection.write(post('/api/jobs', 'Transfer-Encoding: chunked\r\n'));
    await connection.write(chunk(2_000));
    const answer = await connection.response();
    expect(answer.status).toBe(413);
    expectTooLarge(answer.body, 1_000);

    // A client that never stops: the hub reads on up to its bound, then hangs up.
    await expectCutPastTheBound(connection, chunk(256 * 1024));
    await expectUsableAndNoJob(hub);
  });

  it('a Content-Length over the bound is answered, then cut once the bound is read', async () => {
    const hub = await testHub();
    const connection = await RawConnection.open(hub.port);
    await connection.write(post('/api/jobs', `Content-Length: ${1024 * MiB}\r\n`));
    await connection.write(filler(64 * 1024));
    expectTooLarge((await connection.response()).body, MiB);
    await expectCutPastTheBound(connection, filler(256 * 1024));
    await expectUsableAndNoJob(hub);
  });

  it('closes a connection whose over-limit body stalls, once the time bound passed (a small bound here)', async () => {
    const app = Fastify({ bodyLimit: 100 });
    jsonBodies(app, { maxBytes: 64 * MiB, maxMs: 50 });
    app.setErrorHandler((error: FastifyError, _request, reply) => {
      void reply.status(error.statusCode ?? 500).send({ error: { code: error.code, message: error.message } });
    });
    app.post('/', async () => ({ ok: true }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    onTestFinished(() => app.close());
    const { port } = app.server.address() as { port: number };

    const connection = await RawConnection.open(port);
    await connection.write(`POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n`);
    await connection.write(filler(200));
    expect((await connection.response()).status).toBe(413);
    // The client sends nothing more: the hub does not wait for the other 800 bytes forever.
    await connection.closedByPeer();
  });

  it('answers 413 for an over-limit body on a route that takes none, and on an unknown route', async () => {
    const hub = await testHub();
    const job = await submit(hub, { type: 'x' });
    const before = await snapshot(hub);
    const big = JSON.stringify({ padding: 'x'.repeat(2 * MiB) });
    expectTooLarge((await api(hub, 'POST', `/api/jobs/${job.id}/cancel`, big)).body, MiB);
    expectTooLarge((await api(hub, 'POST', '/api/nope', big)).body, MiB);
    expect(await snapshot(hub)).toEqual(before);
  });
});

describe('empty bodies', () => {
  it.each([
    ['with a JSON content type', { 'content-type': 'application/json' }],
    ['with a JSON content type and charset', { 'content-type': 'application/json; charset=utf-8' }],
    ['without a content type', {}],
  ])('POST /api/jobs/:id/cancel takes an empty body (%s)', async (_name, headers: Record<string, string>) => {
    const hub = await testHub();
    const job = await submit(hub, { type: 'unserved' });
    const answer = await api(hub, 'POST', `/api/jobs/${job.id}/cancel`, headers['content-type'] ? '' : undefined, headers);
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body).toMatchObject({ id: job.id, state: 'cancelled' });
  });

  it('DELETE /api/actors/:id takes an empty body with a JSON content type', async () => {
    const hub = await testHub();
    // The body is read before the route runs: its own answer (here, about the id) shows it was taken.
    for (const contentType of ['application/json', 'application/json; charset=utf-8']) {
      const answer = await api(hub, 'DELETE', `/api/actors/${encodeURIComponent('has space')}`, '', { 'content-type': contentType });
      const error = expectError(answer, 400, 'bad_request');
      expect(error.message).toContain('actor id');
      expect(error.message).not.toBe(EMPTY_BODY);
    }
  });

  it.each(['/api/jobs', '/api/jobs/batch'])('%s refuses an empty body with 400 saying so, with or without a JSON content type', async (path) => {
    const hub = await testHub();
    await submit(hub, { type: 'existing' });
    const before = await snapshot(hub);
    for (const answer of [
      await api(hub, 'POST', path, '', { 'content-type': 'application/json' }),
      await api(hub, 'POST', path, '', { 'content-type': 'application/json; charset=utf-8' }),
      await api(hub, 'POST', path),
    ]) {
      expect(expectError(answer, 400, 'bad_request').message).toBe(EMPTY_BODY);
    }
    expect(byId((await snapshot(hub)).records)).toEqual(byId(before.records));
    expect((await snapshot(hub)).offset).toBe(before.offset);
  });

  it('keeps refusing a non-JSON content type with 415 on routes that take no body, empty or not', async () => {
    const hub = await testHub();
    const job = await submit(hub, { type: 'unserved' });
    for (const contentType of ['text/plain', 'application/x-www-form-urlencoded']) {
      expectError(await api(hub, 'POST', `/api/jobs/${job.id}/cancel`, '', { 'content-type': contentType }), 415, 'unsupported_media_type');
      expectError(await api(hub, 'POST', `/api/jobs/${job.id}/cancel`, 'x=1', { 'content-type': contentType }), 415, 'unsupported_media_type');
    }
    expect((await api(hub, 'GET', `/api/jobs/${job.id}`)).body.state).toBe('pending');
  });

  it('still parses non-empty bodies safely: malformed and prototype-poisoning JSON are 400 on any route', async () => {
    const hub = await testHub();
    const job = await submit(hub, { type: 'unserved' });
    for (const body of ['{"reason":', '{"__proto__":{"admin":true}}', '{"constructor":{"prototype":{"admin":true}}}']) {
      expectError(await api(hub, 'POST', `/api/jobs/${job.id}/cancel`, body, { 'content-type': 'application/json' }), 400, 'bad_request');
      expectError(await api(hub, 'POST', '/api/jobs', body, { 'content-type': 'application/json' }), 400, 'bad_request');
    }
    expect((await api(hub, 'GET', `/api/jobs/${job.id}`)).body.state).toBe('pending');
  });
});

/** Writes `piece` until the hub hangs up; it must have read past its discard bound, and not much more. */
async function expectCutPastTheBound(connection: RawConnection, piece: string | Uint8Array): Promise<void> {
  try {
    while (!connection.closed) await connection.write(piece);
  } catch {
    // the hub hung up while this was being written
  }
  await connection.closedByPeer();
  expect(connection.written).toBeGreaterThan(DISCARD_BOUNDS.maxBytes);
  // Whatever the kernels' buffers held besides: nowhere near twice the bound.
  expect(connection.written).toBeLessThan(DISCARD_BOUNDS.maxBytes + 32 * MiB);
}
