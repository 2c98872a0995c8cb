/** The HTTP API (JSON), the SSE stream, health, metrics and the monitor UI. */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { promisify } from 'node:util';
import { gzip as gzipCallback, constants as zlibConstants } from 'node:zlib';
import { negotiate } from '@fastify/accept-negotiator';
import rateLimit from '@fastify/rate-limit';
import type { Logger } from 'pino';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { z } from 'zod';
import { HubError, invalidInput, parseInput } from '../protocol/errors.js';
import { checkSize } from '../protocol/sizes.js';
import { jobBatchSchema, jobSubmissionSchema, type JobSubmission } from '../protocol/jobs.js';
import { TIME_HEADER, offsetSchema } from '../protocol/monitor.js';
import { KINDS } from '../protocol/record.js';
import { idSchema } from '../protocol/ids.js';
import type { Store } from '../store/store.js';
import { bearerToken, type Auth, type Permission } from './auth.js';
import type { Feed } from './feed.js';
import type { Jobs } from './jobs.js';
import type { ActorHost } from './actor-host.js';
import { removeActor } from './removal.js';
import type { Metrics } from './metrics.js';
import type { RecentTransitions } from './recent-transitions.js';
import { encodeSnapshot } from '../protocol/encoding.js';
import { serveMonitor } from './monitor-page.js';
import { snapshotStream } from './snapshot-body.js';
import { EMPTY_BODY, jsonBodies, requireBody } from './body.js';
import { streamEvents } from './sse.js';
import { guardOrigins, type OriginPolicy } from './origins.js';
import { actorIdOf } from './report-error.js';
import type { WebhookRegistry } from './webhooks/registry.js';
import { webhookRoutes } from './webhooks/routes.js';

export interface HttpDeps {
  store: Store;
  jobs: Jobs;
  host: ActorHost;
  /** Largest job payload (bytes of its JSON text). */
  maxPayloadBytes: number;
  feed: Feed;
  auth: Auth;
  metrics: Metrics;
  /** The last minute's transitions per kind, counted from the log. */
  recent: RecentTransitions;
  webhooks: WebhookRegistry;
  bodyLimit: number;
  /** Built monitor UI (index.html and assets), if any. */
  uiDir: string | undefined;
  /** Which web pages may call (requests of others get 403). */
  origins: OriginPolicy;
  /** Requests per second per client; 0 for no limit. */
  rateLimit: number;
  /** Unsent bytes an SSE client may have before it is cut off. */
  sseMaxBufferedBytes: number;
  /** Where failures of the hub itself (5xx) are told; requests are not logged (they carry tokens). */
  log: Pick<Logger, 'error'>;
}

const commaList = z.string().transform((text) => text.split(',').map((item) => item.trim()).filter(Boolean));
const kindsList = commaList.pipe(z.array(z.enum(KINDS)).min(1));

const snapshotQuery = z.object({ kinds: kindsList.optional() });
const eventsQuery = z.object({
  since: offsetSchema.optional(),
  kinds: kindsList.optional(),
  ids: commaList.pipe(z.array(idSchema).min(1)).optional(),
  token: z.string().optional(),
});
const idParams = z.object({ id: idSchema });
const kindParams = z.object({ kind: z.enum(KINDS) });
const machineQuery = z.object({ version: z.string().max(64).optional(), token: z.string().optional() });
const recentQuery = z.object({ offset: offsetSchema.optional(), token: z.string().optional() });

/** Snapshots this long (chars) or longer are sent gzipped to clients that accept it. */
const GZIP_FROM_BYTES = 16 * 1024;
/** Snapshots of at least this many records are streamed in slices rather than made as one string. */
const STREAM_FROM_RECORDS = 2_000;
const gzip = promisify(gzipCallback);

export async function createHttp(deps: HttpDeps): Promise<FastifyInstance> {
  const app = Fastify({
    bodyLimit: deps.bodyLimit,
    logger: false,
    forceCloseConnections: true,
    // An id may be 200 characters, each up to 9 once percent-encoded.
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // What the router refuses before any route, answered like everything else.
    frameworkErrors: (error, _request, reply) => {
      const hubError = toHubError(error, deps.bodyLimit);
      void (reply as FastifyReply).code(hubError.status).send(hubError.toBody());
    },
    clientErrorHandler: answerClientError,
  });
  const { jobs, store, auth } = deps;
  jsonBodies(app);
  guardOrigins(app, deps.origins);
  if (deps.rateLimit > 0) await limitRate(app, deps.rateLimit, auth);

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const hubError = toHubError(error, deps.bodyLimit);
    // A store that does not answer is logged once by the hub (its availability), not per request.
    // The route's pattern, not the URL: a query string may hold a token.
    if (hubError.code === 'internal') {
      const { id } = (request.params ?? {}) as { id?: unknown };
      const actorId = actorIdOf(error) ?? (typeof id === 'string' ? id : undefined);
      deps.log.error({ err: error, method: request.method, route: request.routeOptions.url, ...(actorId === undefined ? {} : { actorId }) }, `internal: ${hubError.message}`);
    }
    void reply.status(hubError.status).send(hubError.toBody());
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send(new HubError('not_found', `no route ${request.method} ${request.url.split('?')[0]}`).toBody());
  });

  // Checked on request, before the body is read: strangers get 401, not a parse error.
  const allow = (permission: Permission) => async (request: FastifyRequest) => {
    auth.check(bearerToken(request.headers.authorization) ?? (request.query as { token?: string }).token, permission);
  };

  app.post('/api/jobs', { onRequest: allow('submit') }, async (request, reply) => {
    const submission = parseInput(jobSubmissionSchema, requireBody(request), 'job');
    checkSize(submission.payload, deps.maxPayloadBytes, 'payload', '--max-payload-bytes');
    const [record] = await jobs.submit([submission]);
    return reply.status(201).send(record);
  });

  app.post('/api/jobs/batch', { onRequest: allow('submit') }, async (request, reply) => {
    const { jobs: items } = parseInput(jobBatchSchema, requireBody(request), 'batch');
    const submissions: JobSubmission[] = items.map((item, index) => {
      const parsed = jobSubmissionSchema.safeParse(item);
      if (parsed.success) {
        checkSize(parsed.data.payload, deps.maxPayloadBytes, `jobs[${index}].payload`, '--max-payload-bytes');
        return parsed.data;
      }
      const error = invalidInput(parsed.error, `job at index ${index}`);
      throw new HubError('bad_request', `jobs[${index}] is invalid: ${error.message.replace(/^invalid job at index \d+: /, '')}`, {
        index,
        ...(error.details as object),
      });
    });
    return reply.status(201).send({ records: await jobs.submit(submissions) });
  });

  app.get('/api/jobs/:id', { onRequest: allow('read') }, async (request) => jobs.get(parseInput(idParams, request.params, 'job id').id));

  app.post('/api/jobs/:id/cancel', { onRequest: allow('submit') }, async (request) =>
    jobs.cancel(parseInput(idParams, request.params, 'job id').id),
  );

  app.get('/api/actors/:id', { onRequest: allow('read') }, async (request) => {
    const { id } = parseInput(idParams, request.params, 'actor id');
    const record = await store.get(id);
    if (!record) throw new HubError('not_found', `no actor ${id}`);
    return record;
  });

  app.delete('/api/actors/:id', { onRequest: allow('manage') }, async (request) =>
    removeActor(deps.host, parseInput(idParams, request.params, 'actor id').id),
  );

  const history = async (request: FastifyRequest, kind?: 'job') => {
    const { id } = parseInput(idParams, request.params, 'id');
    const record = await store.get(id);
    if (!record || (kind && record.kind !== kind)) throw new HubError('not_found', `no ${kind ?? 'actor'} ${id}`);
    return { entries: await store.history(id), limit: store.historyLimit };
  };
  app.get('/api/jobs/:id/history', { onRequest: allow('read') }, (request) => history(request, 'job'));
  app.get('/api/actors/:id/history', { onRequest: allow('read') }, (request) => history(request));

  app.get('/api/machines', { onRequest: allow('read') }, async () => ({
    machines: KINDS.flatMap((kind) => {
      const definition = deps.host.definition(kind);
      return definition ? [{ kind, id: definition.id, version: definition.version }] : [];
    }),
  }));

  app.get('/api/machines/:kind', { onRequest: allow('read') }, async (request) => {
    const { kind } = parseInput(kindParams, request.params, 'machine kind');
    const { version } = parseInput(machineQuery, request.query, 'query');
    const definition = deps.host.definition(kind, version);
    if (definition) return { kind, ...definition };
    const own = deps.host.definition(kind);
    if (!own) throw new HubError('not_found', `no machine makes ${kind} records in this hub yet`);
    throw new HubError(
      'not_found',
      `this hub runs ${kind} version ${own.version} and knows no ${version}: the record came from another build (a worker declares its connector machine to the hub it registers with)`,
      { version: own.version },
    );
  });

  app.get('/api/machines/:kind/recent', { onRequest: allow('read') }, async (request, reply) => {
    const { kind } = parseInput(kindParams, request.params, 'machine kind');
    const { offset } = parseInput(recentQuery, request.query, 'query');
    return reply.header('cache-control', 'no-store').send(await deps.recent.answer(kind, offset));
  });

  app.get('/api/throughput', { onRequest: allow('read') }, async () => deps.metrics.throughput());

  app.get('/api/snapshot', { onRequest: allow('read') }, async (request, reply) => {
    const { kinds } = parseInput(snapshotQuery, request.query, 'query');
    const snapshot = await store.snapshot(kinds);
    const time = String(store.now());
    reply.header('cache-control', 'no-store').header('vary', 'accept-encoding').header(TIME_HEADER, time).type('application/json; charset=utf-8');
    // A snapshot is repetitive JSON: gzip makes it ~10-20x smaller (a page's first load over a
    // slow link). zlib runs on libuv's thread pool, so the hub keeps serving meanwhile.
    const gzipAccepted = negotiate(request.headers['accept-encoding'] ?? '', ['gzip']) === 'gzip';
    // A large one is sent a slice at a time, so making it does not hold the hub (see snapshot-body.ts).
    if (snapshot.records.length >= STREAM_FROM_RECORDS) {
      if (gzipAccepted) reply.header('content-encoding', 'gzip');
      return reply.send(snapshotStream(snapshot, { gzip: gzipAccepted }));
    }
    const text = encodeSnapshot(snapshot);
    if (text.length < GZIP_FROM_BYTES || !gzipAccepted) return reply.send(text);
    return reply.header('content-encoding', 'gzip').send(await gzip(text, { level: zlibConstants.Z_BEST_SPEED }));
  });

  app.get('/api/events', { onRequest: allow('read') }, async (request, reply) => {
    const query = parseInput(eventsQuery, request.query, 'query');
    const lastEventId = request.headers['last-event-id'];
    const since = query.since ?? (typeof lastEventId === 'string' && lastEventId ? lastEventId : undefined);
    const filter = query.kinds || query.ids ? { ...(query.kinds && { kinds: query.kinds }), ...(query.ids && { ids: query.ids }) } : undefined;
    reply.hijack();
    deps.metrics.monitors.inc();
    reply.raw.once('close', () => deps.metrics.monitors.dec());
    await streamEvents(reply.raw, deps.feed, { since, filter }, deps.sseMaxBufferedBytes).catch((error) => {
      deps.log.error({ err: error }, 'the event stream failed');
      reply.raw.destroy();
    });
  });

  app.get('/healthz', { onRequest: allow('read') }, async (_request, reply) => {
    try {
      await withTimeout(store.ping(), 2_000);
    } catch (error) {
      throw new HubError('unavailable', `the ${store.kind} store does not answer: ${(error as Error).message}`, { store: store.kind });
    }
    return reply.header('cache-control', 'no-store').send({ status: 'ok', store: store.kind });
  });

  app.get('/metrics', { onRequest: allow('read') }, async (_request, reply) => {
    const text = await deps.metrics.render();
    return reply.type(deps.metrics.contentType).send(text);
  });

  webhookRoutes(app, deps.webhooks, allow);
  serveMonitor(app, deps.uiDir);
  return app;
}

/**
 * At most `perSecond` requests per second per client (@fastify/rate-limit): a client is its token
 * when it is a known one (so clients behind one address do not share a budget), else its address.
 * Over it: 429 with Retry-After.
 */
async function limitRate(app: FastifyInstance, perSecond: number, auth: Auth): Promise<void> {
  await app.register(rateLimit, {
    max: perSecond,
    timeWindow: 1_000,
    keyGenerator: (request) => {
      const token = bearerToken(request.headers.authorization) ?? (request.query as { token?: unknown } | undefined)?.token;
      return typeof token === 'string' && auth.knows(token) ? `token:${token}` : `address:${request.ip}`;
    },
    errorResponseBuilder: (_request, context) =>
      new HubError('rate_limited', `more than ${context.max} requests per second from this client; retry in ${context.after}`, { retryAfterMs: context.ttl }),
  });
}

const MAX_PARAM_LENGTH = 2_048;

function toHubError(error: FastifyError, bodyLimit: number): HubError {
  if (error instanceof HubError) return error;
  switch (error.code) {
    case 'FST_ERR_BAD_URL':
      return new HubError('bad_request', 'the URL is not valid: its percent-encoding is not UTF-8');
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return new HubError('uri_too_long', `a part of the URL path is over ${MAX_PARAM_LENGTH} characters`, { limit: MAX_PARAM_LENGTH });
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new HubError('payload_too_large', `the body is over the limit of ${bodyLimit} bytes`, { limit: bodyLimit });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new HubError('unsupported_media_type', 'send JSON with Content-Type: application/json');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new HubError('bad_request', EMPTY_BODY);
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new HubError('bad_request', 'Content-Length does not match the body');
  }
  if (error instanceof SyntaxError || error.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
    return new HubError('bad_request', `malformed JSON: ${error.message}`);
  }
  if (error.name === 'StoreUnavailableError') return new HubError('unavailable', error.message);
  if (error.name === 'UnreadableRecordError') return new HubError('internal', error.message);
  if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
    return new HubError('bad_request', error.message);
  }
  return new HubError('internal', `internal error: ${error.message}`);
}

/**
 * What Node's HTTP parser refuses before Fastify sees a request (a head over 16 KiB, a request
 * that timed out, bytes that are no HTTP), answered in the hub's error shape, then closed.
 */
function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const hubError =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? new HubError('header_too_large', 'the request line and headers are over 16 KiB')
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? new HubError('request_timeout', 'the request took too long to arrive')
        : new HubError('bad_request', `not a valid HTTP request (${error.code ?? 'parse error'})`);
  const body = JSON.stringify(hubError.toBody());
  socket.end(`HTTP/1.1 ${hubError.status} ${STATUS_CODES[hubError.status]}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const handle = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    promise.then(resolve, reject).finally(() => clearTimeout(handle));
  });
}
