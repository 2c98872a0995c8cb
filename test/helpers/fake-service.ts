/**
 * What the fake model servers (openai-service.ts, ollama-service.ts) share: a real HTTP server on
 * a free local port that records every request, answers scripted failures first, streams with
 * pauses a test controls, and can stop (unreachable, its connections cut) and start again on the
 * same port.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { onTestFinished } from 'vitest';
import { Conditions } from './conditions.js';
import { deferred, type Deferred } from './connectors.js';

export interface FakeRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: any;
  /** The client went away before the answer was complete (a cancel, a timeout). */
  abandoned: boolean;
}

export interface FakeReply {
  status: number;
  headers?: Record<string, string>;
  body: unknown;
}

/** Where a stream stops until released: before its headers, or once that many tokens are written. */
export type PausePoint = 'before-headers' | number;

export interface Pause {
  /** Resolves when a stream reached the point. */
  readonly reached: Promise<void>;
  release(): void;
}

export type Handler = (request: FakeRequest, response: ServerResponse) => Promise<void> | void;

export interface FakeServer {
  readonly origin: string;
  /** Every request, in order. */
  readonly requests: FakeRequest[];
  /** The next request to `METHOD /path` gets this answer instead (several queue up, in order). */
  failNext(route: string, reply: FakeReply): void;
  /** The next stream stops at `at` until released. */
  pause(at: PausePoint): Pause;
  /** Called by streams at each point; waits while a pause holds it. */
  pausePoint(at: PausePoint): Promise<void>;
  /** Resolves once `condition` holds, re-checked after every request and every abandoned one. */
  until(condition: () => boolean, description: string): Promise<void>;
  /** Stops listening and cuts open connections: from now on it is unreachable. */
  stop(): Promise<void>;
  /** Listens again, on the same port. */
  start(): Promise<void>;
}

export async function startFakeServer(handle: Handler): Promise<FakeServer> {
  const requests: FakeRequest[] = [];
  const failures = new Map<string, FakeReply[]>();
  const conditions = new Conditions();
  let pending: { at: PausePoint; reached: Deferred<void>; released: Deferred<void> } | undefined;

  const server = createServer(async (incoming, response) => {
    const request = await record(incoming);
    requests.push(request);
    response.on('close', () => {
      request.abandoned = !response.writableFinished;
      conditions.notify();
    });
    conditions.notify();
    const failure = failures.get(`${request.method} ${request.path}`)?.shift();
    if (failure) return sendJson(response, failure.status, failure.body, failure.headers);
    await handle(request, response);
  });

  let port = 0;
  const listen = () => new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  await listen();
  port = (server.address() as AddressInfo).port;
  const stop = async () => {
    if (!server.listening) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  onTestFinished(stop);

  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    failNext(route, reply) {
      const queue = failures.get(route) ?? [];
      queue.push(reply);
      failures.set(route, queue);
    },
    pause(at) {
      pending = { at, reached: deferred<void>(), released: deferred<void>() };
      return { reached: pending.reached.promise, release: pending.released.resolve };
    },
    async pausePoint(at) {
      if (pending?.at !== at) return;
      const { reached, released } = pending;
      pending = undefined;
      reached.resolve();
      await released.promise;
    },
    until: (condition, description) =>
      conditions.until(condition, description, {
        timeoutMs: 10_000,
        got: () => requests.map((request) => `${request.method} ${request.path}${request.abandoned ? ' (abandoned)' : ''}`).join(', ') || 'no requests',
      }),
    stop,
    start: listen,
  };
}

async function record(incoming: IncomingMessage): Promise<FakeRequest> {
  let text = '';
  for await (const chunk of incoming) text += chunk;
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // keep the text
  }
  return { method: incoming.method ?? '', path: (incoming.url ?? '/').split('?')[0]!, headers: incoming.headers, body, abandoned: false };
}

export function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  response.writeHead(status, { 'content-type': 'application/json', ...headers });
  response.end(JSON.stringify(body));
}

/** A piece of a streamed answer; `token` marks those that bring a token of the answer. */
export interface Piece {
  text: string;
  token?: boolean;
}

/** Writes a streamed answer: its headers, then each piece, stopping where the test paused it (counted in tokens written). */
export async function stream(server: FakeServer, response: ServerResponse, contentType: string, pieces: Piece[]): Promise<void> {
  await server.pausePoint('before-headers');
  response.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-cache' });
  let tokens = 0;
  for (const piece of pieces) {
    await server.pausePoint(tokens);
    if (response.destroyed) return;
    response.write(piece.text);
    if (piece.token) tokens += 1;
    // A stream arrives over time: give the reader a chance to see each piece on its own.
    await new Promise((resolve) => setImmediate(resolve));
  }
  response.end();
}
