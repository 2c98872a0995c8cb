/**
 * A real HTTP server on a local port for a fake service to answer from (comfyui-service.ts,
 * a1111-service.ts, openai-service.ts, ollama-service.ts): it parses each request (JSON body
 * when there is one) and logs it, answers scripted failures first (`failNext`), streams with
 * pauses a test controls (`pause`), notes requests their client dropped (`abandoned`), and can
 * die and come back on the same port, as a restarted service does. Tests wait on what it saw
 * with `until`.
 */
import { listenOnLowPort } from './ports.js';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { onTestFinished } from 'vitest';
import { Conditions } from './conditions.js';
import { deferred, type Deferred } from './connectors.js';

export interface FakeRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: any;
  /** The client went away before the answer was complete (a cancel, a timeout). */
  abandoned: boolean;
}

/** An answer given whole. */
export interface CannedAnswer {
  status: number;
  headers?: Record<string, string>;
  body: unknown;
}

/** A piece of a streamed answer; `token` marks those that bring a token of the answer. */
export interface Piece {
  text: string;
  token?: boolean;
}

export interface Reply {
  json(status: number, body: unknown, headers?: Record<string, string>): void;
  bytes(status: number, data: Buffer, contentType: string): void;
  /** A streamed answer: its headers, then each piece, stopping where the test paused it (counted in tokens written). */
  stream(contentType: string, pieces: Piece[]): Promise<void>;
}

/** Where a stream stops until released: before its headers, or once that many tokens are written. */
export type PausePoint = 'before-headers' | number;

export interface Pause {
  /** Resolves when a stream reached the point. */
  readonly reached: Promise<void>;
  release(): void;
}

export interface FakeServerOptions {
  /** Listen on this port (e.g. one a connector already tries); default: a free one. */
  port?: number;
  /** A WebSocket upgrade request; default: refused. */
  upgrade?: (request: IncomingMessage, socket: Duplex, head: Buffer) => void;
  /** Called when the server dies (close), before its port closes: drop what it holds beyond HTTP. */
  onClose?: () => void;
}

export interface FakeServer {
  readonly origin: string;
  readonly port: number;
  /** Every request it received, in order, across restarts. */
  readonly requests: FakeRequest[];
  /** Requests with this method and path so far. */
  count(method: string, path: string): number;
  /** The next request to `METHOD /path` gets this answer instead (several queue up, in order). */
  failNext(route: string, answer: CannedAnswer): void;
  /** The next stream stops at `at` until released. */
  pause(at: PausePoint): Pause;
  /** Resolves once `condition` holds, re-checked after every request, every abandoned one and every `changed()`. */
  until(condition: () => boolean, description: string, timeoutMs?: number): Promise<void>;
  /** Something the fake holds changed: re-check what tests wait for. */
  changed(): void;
  /** Stops listening and drops every connection: from now on it is unreachable. */
  close(): Promise<void>;
  /** Listens again on the same port. */
  restart(): Promise<void>;
}

export async function startFakeServer(handle: (request: FakeRequest, reply: Reply) => void | Promise<void>, options: FakeServerOptions = {}): Promise<FakeServer> {
  const requests: FakeRequest[] = [];
  const failures = new Map<string, CannedAnswer[]>();
  const conditions = new Conditions();
  let server: Server | undefined;
  let paused: { at: PausePoint; reached: Deferred<void>; released: Deferred<void> } | undefined;

  /** Called by streams at each point; waits while a pause holds it. */
  const pausePoint = async (at: PausePoint) => {
    if (paused?.at !== at) return;
    const { reached, released } = paused;
    paused = undefined;
    reached.resolve();
    await released.promise;
  };

  const replyTo = (response: ServerResponse): Reply => ({
    json: (status, body, headers = {}) => {
      response.writeHead(status, { 'content-type': 'application/json', ...headers });
      response.end(JSON.stringify(body));
    },
    bytes: (status, data, contentType) => {
      response.writeHead(status, { 'content-type': contentType, 'content-length': data.length });
      response.end(data);
    },
    stream: async (contentType, pieces) => {
      await pausePoint('before-headers');
      response.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-cache' });
      let tokens = 0;
      for (const piece of pieces) {
        // A stream whose client is gone takes no pause meant for the next one.
        if (response.destroyed) return;
        await pausePoint(tokens);
        if (response.destroyed) return;
        response.write(piece.text);
        if (piece.token) tokens += 1;
        // A stream arrives over time: give the reader a chance to see each piece on its own.
        await new Promise((resolve) => setImmediate(resolve));
      }
      response.end();
    },
  });

  const onRequest = async (request: IncomingMessage, response: ServerResponse) => {
    let text = '';
    for await (const chunk of request) text += chunk;
    const url = new URL(request.url ?? '/', 'http://fake');
    const parsed: FakeRequest = { method: request.method ?? '', path: url.pathname, query: url.searchParams, headers: request.headers, body: parseJson(text), abandoned: false };
    requests.push(parsed);
    response.on('close', () => {
      parsed.abandoned = !response.writableFinished;
      conditions.notify();
    });
    conditions.notify();
    const reply = replyTo(response);
    const failure = failures.get(`${parsed.method} ${parsed.path}`)?.shift();
    try {
      if (failure) reply.json(failure.status, failure.body, failure.headers);
      else await handle(parsed, reply);
    } catch (error) {
      if (!response.headersSent) reply.json(500, { error: `the fake failed: ${(error as Error).message}` });
    }
    conditions.notify();
  };

  const listen = async (port: number) => {
    server = createServer((request, response) => void onRequest(request, response));
    server.on('upgrade', options.upgrade ?? ((_request, socket: Duplex) => socket.destroy()));
    const listening = server;
    await new Promise<void>((resolve, reject) => {
      listening.once('error', reject);
      listening.listen(port, '127.0.0.1', () => {
        listening.off('error', reject);
        resolve();
      });
    });
    return (listening.address() as AddressInfo).port;
  };

  const port = options.port === undefined ? await listenOnLowPort(listen) : await listen(options.port);
  const close = async () => {
    const current = server;
    if (!current) return;
    server = undefined;
    options.onClose?.();
    current.closeAllConnections();
    await new Promise<void>((resolve) => current.close(() => resolve()));
  };
  onTestFinished(close);
  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    requests,
    count: (method, path) => requests.filter((request) => request.method === method && request.path === path).length,
    failNext(route, answer) {
      failures.set(route, [...(failures.get(route) ?? []), answer]);
    },
    pause(at) {
      paused = { at, reached: deferred<void>(), released: deferred<void>() };
      return { reached: paused.reached.promise, release: paused.released.resolve };
    },
    until: (condition, description, timeoutMs = 10_000) =>
      conditions.until(condition, description, {
        timeoutMs,
        got: () =>
          requests
            .map((request) => `${request.method} ${request.path}${request.abandoned ? ' (abandoned)' : ''}`)
            .slice(-10)
            .join(', ') || 'no requests',
      }),
    changed: () => conditions.notify(),
    close,
    restart: async () => {
      if (!server) await listen(port);
    },
  };
}

/**
 * A port that takes connections and drops them at once, as a server still coming up may:
 * `tried(n)` resolves once `n` connections came; `close()` frees the port for the real server.
 */
export async function bootingPort(): Promise<{ port: number; tried(n: number): Promise<void>; close(): Promise<void> }> {
  let attempts = 0;
  const conditions = new Conditions();
  const server = createTcpServer((socket) => {
    attempts += 1;
    socket.destroy();
    conditions.notify();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const close = () => new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()));
  onTestFinished(close);
  return {
    port: (server.address() as AddressInfo).port,
    tried: (n) => conditions.until(() => attempts >= n, `${n} connections`, { timeoutMs: 10_000, got: () => `${attempts}` }),
    close,
  };
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
