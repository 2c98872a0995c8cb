/**
 * A real HTTP server on a local port for a fake service to answer from: it parses each request
 * (JSON body when there is one), logs it, and can die and come back on the same port, as a
 * restarted service does. Tests wait on what it saw with `until`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { onTestFinished } from 'vitest';
import { Conditions } from './conditions.js';

export interface FakeRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: any;
}

export interface Reply {
  json(status: number, body: unknown): void;
  bytes(status: number, data: Buffer, contentType: string): void;
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
  /** Resolves once `condition` holds, re-checked after every request and every `changed()`. */
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
  const conditions = new Conditions();
  let server: Server | undefined;

  const onRequest = async (request: IncomingMessage, response: ServerResponse) => {
    let text = '';
    for await (const chunk of request) text += chunk;
    const url = new URL(request.url ?? '/', 'http://fake');
    const parsed: FakeRequest = { method: request.method ?? '', path: url.pathname, query: url.searchParams, headers: request.headers, body: parseJson(text) };
    requests.push(parsed);
    const reply: Reply = {
      json: (status, body) => {
        response.writeHead(status, { 'content-type': 'application/json' });
        response.end(JSON.stringify(body));
      },
      bytes: (status, data, contentType) => {
        response.writeHead(status, { 'content-type': contentType, 'content-length': data.length });
        response.end(data);
      },
    };
    try {
      await handle(parsed, reply);
    } catch (error) {
      if (!response.headersSent) reply.json(500, { error: `the fake failed: ${(error as Error).message}` });
    }
    conditions.notify();
  };

  const listen = async (port: number) => {
    server = createServer((request, response) => void onRequest(request, response));
    server.on('upgrade', options.upgrade ?? ((_request, socket: Duplex) => socket.destroy()));
    await new Promise<void>((resolve) => server!.listen(port, '127.0.0.1', resolve));
    return (server.address() as AddressInfo).port;
  };

  const port = await listen(options.port ?? 0);
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
    until: (condition, description, timeoutMs = 10_000) =>
      conditions.until(condition, description, { timeoutMs, got: () => requests.map((request) => `${request.method} ${request.path}`).slice(-10).join(', ') || 'no requests' }),
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
