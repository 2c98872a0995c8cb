/**
 * Request bodies: JSON only, empty where a route takes none, and what becomes of the rest of a body
 * the hub answered before reading it all (a 413 over the limit, a 415, a 401...).
 */
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { HubError } from '../protocol/errors.js';
import { checkShape } from '../protocol/shape.js';
import secureJson from 'secure-json-parse';

export interface DiscardBounds {
  /** Bytes of a body read and dropped after its answer before the connection is closed. */
  maxBytes: number;
  /** Time, from the answer, that the rest of a body may take before the connection is closed. */
  maxMs: number;
}

/** Like nginx's lingering close: enough for any client to see its answer, bounded against an endless body. */
export const DISCARD_BOUNDS: Readonly<DiscardBounds> = { maxBytes: 64 * 1024 * 1024, maxMs: 30_000 };

export const EMPTY_BODY = 'the body is empty; send a JSON object';

/** Installs the body rules on `app`, before its routes. */
export function jsonBodies(app: FastifyInstance, discard: DiscardBounds = DISCARD_BOUNDS): void {
  // JSON only: anything else is refused with 415 before it is read (see the README: a web page
  // may POST text/plain to 127.0.0.1 without the browser asking first).
  app.removeContentTypeParser('text/plain');
  // JSON parsed by secure-json-parse (what Fastify's own parser uses) with its checks against
  // prototype poisoning, saying what was wrong; an empty body is no body: a route that takes none
  // accepts `Content-Type: application/json` with nothing after it, and a route that needs one
  // says so through `requireBody`. Bounded before any route, schema or encoder sees it.
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    if (body.length === 0) return done(null, undefined);
    try {
      const value: unknown = secureJson.parse(body as string, undefined, { protoAction: 'error', constructorAction: 'error' });
      checkShape(value, '');
      return done(null, value);
    } catch (error) {
      return done(error instanceof HubError ? error : new HubError('bad_request', jsonProblem(error as Error)));
    }
  });
  // Decided from the headers alone, before the body is read.
  app.addHook('preParsing', async (request) => {
    const encoding = request.headers['content-encoding'];
    if (encoding !== undefined && encoding.toLowerCase() !== 'identity') {
      throw new HubError('unsupported_media_type', `Content-Encoding ${encoding} is not supported: send the JSON as it is`);
    }
    const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(request.headers['content-type'] ?? '')?.[1];
    if (charset !== undefined && !/^utf-?8$/i.test(charset)) {
      throw new HubError('unsupported_media_type', `charset ${charset} is not supported: JSON is UTF-8`);
    }
  });
  app.addHook('onSend', (request, reply, payload, done) => {
    discardUnreadBody(request.raw, reply, discard);
    done(null, payload);
  });
}

/** What was wrong with a body secure-json-parse refused. */
function jsonProblem(error: Error): string {
  if (/forbidden (prototype|constructor) property/.test(error.message)) {
    return 'the body has a __proto__ or constructor.prototype key: refused, it could change the objects that read it';
  }
  return `malformed JSON: ${error.message}`;
}

/** The parsed body of a route that needs one, or the 400 saying it is empty. */
export function requireBody(request: FastifyRequest): unknown {
  if (request.body === undefined) throw new HubError('bad_request', EMPTY_BODY);
  return request.body;
}

/**
 * For an answer sent before the request's body was all read: keeps the connection open, reading
 * and dropping the rest of the body, up to `bounds`, then closes it.
 *
 * Why: Fastify adds `Connection: close` to a body error (the 413), and Node then closes the
 * socket as soon as the answer is written. A client still sending its body (Node's fetch on a
 * 5 MB body) gets EPIPE or ECONNRESET from the kernel before it reads the 413, so it sees
 * `fetch failed`, not the answer. Without that header Node keeps the connection: its HTTP parser
 * goes on reading the body and, with nobody keeping the chunks (Fastify has stopped collecting
 * at the limit, or never started), drops them; the client finishes sending (or stops, having read
 * the answer) and the connection serves its next request. Only the bounds are added here: Node
 * would otherwise read an endless body forever (Fastify sets no request timeout).
 */
function discardUnreadBody(request: IncomingMessage, reply: FastifyReply, bounds: DiscardBounds): void {
  if (request.complete || request.socket.destroyed) return;
  reply.removeHeader('connection');
  const socket = request.socket;
  let discarded = 0;
  const stop = () => {
    clearTimeout(timer);
    request.off('data', count);
    request.off('end', stop);
    socket.off('close', stop);
  };
  const hangUp = () => {
    stop();
    socket.destroy();
  };
  // Counting only: the chunks are not kept. Listening also keeps the body flowing.
  const count = (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > bounds.maxBytes) hangUp();
  };
  const timer = setTimeout(hangUp, bounds.maxMs);
  timer.unref();
  request.on('data', count);
  request.once('end', stop);
  socket.once('close', stop);
}
