/** The hub: the store, the actors it runs, and its edges (HTTP, SSE, Socket.IO), wired together. */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Server } from 'socket.io';
import pino, { type Logger } from 'pino';
import { Registry } from 'prom-client';
import type { WebhookSettings } from '../../machines/webhook.js';
import { WORKER_TIMING_DEFAULTS, type WorkerTimings } from '../../machines/worker.js';
import type { WorkerLimits } from '../protocol/worker.js';
import { MemoryStore } from '../store/memory.js';
import { RedisStore } from '../store/redis.js';
import { StoreUnavailableError, type Store } from '../store/store.js';
import { ActorHost } from './actor-host.js';
import { Auth, type Tokens } from './auth.js';
import { Dispatcher } from './dispatch.js';
import { Feed } from './feed.js';
import { Hooks, type Hook, type HookEvent } from './hooks.js';
import { createHttp } from './http.js';
import { Jobs } from './jobs.js';
import { LiveSet } from './live-set.js';
import { Metrics } from './metrics.js';
import { OriginPolicy } from './origins.js';
import { RecentTransitions } from './recent-transitions.js';
import { attachMonitorGateway } from './monitor-gateway.js';
import { toConnectError } from './socket-errors.js';
import { HubError } from '../protocol/errors.js';
import { Presence } from './presence.js';
import { probeTargets, type ProbesConfig } from './probes/config.js';
import { Probes } from './probes/probes.js';
import { RETENTION_DEFAULTS, Retention, type RetentionOptions } from './retention.js';
import { actorIdOf, type ReportError } from './report-error.js';
import { TimerLoop } from './timers.js';
import { timedStore } from './timed-store.js';
import { SocketRate } from './socket-rate.js';
import { StatelyRelay } from './stately-relay.js';
import { inspectorUrl } from '../stately-inspector.js';
import { attachWorkerGateway } from './worker-gateway.js';
import { createWebhooks } from './webhooks/index.js';

export interface HubOptions {
  /** 0 picks a free port. Default 3000. */
  port?: number;
  /** Default 127.0.0.1: without tokens the hub stays on loopback unless told otherwise. */
  host?: string;
  /** Where state lives. Default: a Redis store when `redis` is given, else a new in-memory store. */
  store?: Store;
  /** A Redis URL: state is durable and several hubs can share it. */
  redis?: string;
  /** Key prefix in Redis, so independent statehubs can share one server. Default `statehub`. */
  redisPrefix?: string;
  /** Changes kept per actor for its history, for the store the hub makes (not a given `store`). Default 1,000. */
  historyLimit?: number;
  /** Token -> role; when set, every request and socket needs a token. */
  tokens?: Tokens;
  /**
   * Origins (`https://dash.example`) whose web pages may use the hub besides its own monitor
   * page, or `*` for every one. Requests without an Origin header (not from a browser) are
   * always accepted. Default: none.
   */
  allowOrigins?: string[];
  /** Largest accepted HTTP body, in bytes. Default 1 MiB. */
  bodyLimit?: number;
  /** Largest job payload (bytes of its JSON text); a bigger one is refused with 400. Default 1 MiB. */
  maxPayloadBytes?: number;
  /**
   * Largest job result (bytes of its JSON text); a bigger one fails its job, not retried. Default
   * 1 MiB. The worker socket takes messages up to this plus 1 MiB, and workers are told both.
   */
  maxResultBytes?: number;
  timings?: Partial<WorkerTimings>;
  retention?: Partial<RetentionOptions>;
  /**
   * Dependencies to probe besides the store, which is always probed (`probe:store`): the
   * `--probes` file's content, `--probe` URLs in `probes`. See src/hub/probes/config.ts.
   */
  probes?: ProbesConfig;
  /**
   * Probe the store (`probe:store`). Default true, and the command line always does. False is
   * for embedding where the log must hold only what the embedder did (statehub's own tests).
   */
  probeStore?: boolean;
  /**
   * Webhooks: the lease a hub holds a delivery round for and how often an idle webhook looks for
   * changes, and defaults for what a registration may choose (maxFailures, backoffMs, timeoutMs).
   * The POST timeout must be at most half the lease. See machines/webhook.ts.
   */
  webhooks?: Partial<WebhookSettings>;
  /** Names this hub where it records what it holds (a webhook's delivery round). Default `<host name>-<pid>-<4 hex digits>`. */
  id?: string;
  /** A monitor with more unsent packets than this is disconnected (it resumes with `since`). Default 10,000. */
  maxQueuedPackets?: number;
  /** An SSE client with more unsent bytes than this is disconnected (it resumes with Last-Event-ID). Default 16 MiB. */
  sseMaxBufferedBytes?: number;
  /** HTTP requests per second per client (its token, else its address); 0 for no limit. Default 1,000. */
  httpRateLimit?: number;
  /** Messages per second per socket (worker or monitor); 0 for no limit. Default 2,000. */
  socketRateLimit?: number;
  /**
   * A ws:// or wss:// URL: relay every actor to Stately's inspector there (usually the Node
   * inspector server of `@statelyai/inspect`, default port 8080; see the README). An inspector
   * that is away or slow never holds the hub up: its messages are dropped and counted. Default: off.
   */
  inspect?: string;
  /** Directory of the built monitor UI. Default: the package's dist/ui. */
  uiDir?: string;
  /**
   * A pino logger, or false for silence. Default: info to stdout. The hub logs errors with their
   * type, message, stack and code only (see `loggedError`).
   */
  logger?: Logger | false;
}

export interface Hub {
  /** http://host:port */
  readonly url: string;
  readonly port: number;
  readonly store: Store;
  readonly log: Logger;
  /** The Socket.IO server (namespaces /monitor and /worker), for embedding and tests. */
  readonly io: Server;
  /**
   * Calls `hook` with every later change (`'transition'`) or every later change of one kind of
   * actor (`'job'`, `'worker'`, ...): `{ offset, record, previous, event }`, in offset order (see
   * hooks.ts for what a hook may do). Returns what removes it.
   */
  on<E extends HookEvent>(event: E, hook: Hook<E>): () => void;
  close(): Promise<void>;
}

const MiB = 1024 * 1024;

// The built monitor is dist/ui, whether this module runs from dist/src/hub or from src/hub.
const here = fileURLToPath(new URL('.', import.meta.url));
const DEFAULT_UI_DIR = join(here, here.includes(`${sep}dist${sep}`) ? '../../ui' : '../../dist/ui');

export async function startHub(options: HubOptions = {}): Promise<Hub> {
  const listenHost = options.host ?? '127.0.0.1';
  // A bad URL is refused before anything starts.
  const inspectUrl = options.inspect === undefined ? undefined : inspectorUrl(options.inspect);
  const origins = new OriginPolicy(options.allowOrigins, isLoopback(listenHost));
  const baseLog = options.logger === false ? pino({ level: 'silent' }) : (options.logger ?? pino({ name: 'statehub' }));
  const log = baseLog.child({}, { serializers: { err: loggedError } });
  // A configuration mistake is told before anything connects.
  const probeList = probeTargets(options.probes, options.probeStore !== false && (options.store?.kind ?? (options.redis ? 'redis' : 'memory')));
  const ownStore = !options.store;
  const storeOptions = options.historyLimit === undefined ? {} : { historyLimit: options.historyLimit };
  const givenStore =
    options.store ??
    (options.redis
      ? await RedisStore.connect({ url: options.redis, ...(options.redisPrefix ? { prefix: options.redisPrefix } : {}), ...storeOptions })
      : new MemoryStore(storeOptions));
  const timings = { ...WORKER_TIMING_DEFAULTS, ...options.timings };
  const maxResultBytes = options.maxResultBytes ?? MiB;
  const limits: WorkerLimits = { maxResultBytes, maxMessageBytes: maxResultBytes + MiB };
  const auth = new Auth(options.tokens);
  const onError = errorLog(log);
  const registry = new Registry();
  // Every part of the hub reads and writes through this view, so each store call is timed.
  const store = timedStore(givenStore, registry);
  // One line when the store stops answering and one when it is back, not one per failed step.
  const stopAvailability = store.onAvailability((available, reason) =>
    available ? log.info(`the ${store.kind} store answers again`) : log.warn(`the ${store.kind} store does not answer: ${reason}; writes answer 503 until it does`),
  );
  const live = await LiveSet.open(store, (error) => onError(error, { what: 'the live set could not be read again after a gap in the log' })).catch(async (error: unknown) => {
    stopAvailability();
    if (ownStore) await givenStore.close();
    throw error;
  });

  const host = new ActorHost(store);
  const presence = new Presence(host, timings);
  const jobs = new Jobs(host);
  const dispatcher = new Dispatcher(host, onError);
  const feed = new Feed(store);
  const metrics = new Metrics(registry, store, live);
  const hooks = new Hooks(live, (error, context) => onError(error, { ...context, what: `a ${context.hook} hook failed` }));
  const recent = new RecentTransitions(store, { onError });
  const retention = new Retention(host, { ...RETENTION_DEFAULTS, ...options.retention }, onError);
  const probes = new Probes(host, store, probeList, onError);
  // A store that lost its data (a Redis restarted without persistence) lost the probe actors too.
  const stopGapWatch = store.onGap(() => void probes.start().catch((error: unknown) => onError(error, { what: 'the probes could not be created again after the store lost its data' })));
  const timers = new TimerLoop(host, 250, onError, (timer) => probes.accepts(timer));
  const webhooks = createWebhooks(host, options.id ?? `${hostname()}-${process.pid}-${randomBytes(2).toString('hex')}`, options.webhooks ?? {}, onError);
  const unsubscribe = store.subscribe((entries) => {
    dispatcher.observe(entries);
    retention.observe(entries);
  });

  const app = await createHttp({
    store,
    jobs,
    host,
    maxPayloadBytes: options.maxPayloadBytes ?? MiB,
    feed,
    auth,
    metrics,
    recent,
    webhooks: webhooks.registry,
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    uiDir: options.uiDir ?? DEFAULT_UI_DIR,
    origins,
    rateLimit: options.httpRateLimit ?? 1_000,
    sseMaxBufferedBytes: options.sseMaxBufferedBytes ?? 16 * MiB,
    log,
  });
  const io = new Server(app.server, {
    serveClient: false,
    perMessageDeflate: false,
    httpCompression: false,
    maxHttpBufferSize: limits.maxMessageBytes,
    // Web pages connect from the hub's own origin and --allow-origin ones only (see origins.ts).
    allowRequest: (request, callback) => {
      const verdict = origins.check(request);
      callback(verdict.allowed ? null : verdict.message, verdict.allowed);
    },
    cors: (request, callback) => {
      const verdict = origins.check(request);
      callback(null, { origin: (verdict.allowed && verdict.cors) || false });
    },
  });
  let closing = false;
  io.of('/').use((_socket, next) => next(toConnectError(new HubError('not_found', 'connect to the /monitor or /worker namespace'))));
  const monitors = io.of('/monitor');
  const rate = new SocketRate(options.socketRateLimit ?? 2_000);
  const stopBroadcast = attachMonitorGateway(monitors, feed, auth, { maxQueuedPackets: options.maxQueuedPackets ?? 10_000, rate, onError });
  // After the gateway's: the lag runs up to the moment the monitors' sockets were handed the batch.
  const stopLag = feed.onBroadcast((entries) => metrics.fannedOut(entries));
  const workers = io.of('/worker');
  attachWorkerGateway(workers, { host, presence, jobs, dispatcher, auth, timings, limits, rate, log, closing: () => closing, onError });
  monitors.on('connection', (socket) => {
    metrics.monitors.inc();
    socket.on('disconnect', () => metrics.monitors.dec());
  });
  workers.on('connection', (socket) => {
    metrics.workerSockets.inc();
    socket.on('disconnect', () => metrics.workerSockets.dec());
  });

  await probes.start();
  await webhooks.start();
  await app.listen({ port: options.port ?? 3000, host: listenHost });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : (options.port ?? 3000);
  const url = `http://${listenHost.includes(':') ? `[${listenHost}]` : listenHost}:${port}`;
  timers.start();
  retention.start();
  const relay =
    inspectUrl === undefined
      ? undefined
      : new StatelyRelay({ url: inspectUrl, feed, machineOf: (kind) => host.machine(kind), log: { info: (message) => log.info(message), warn: (message) => log.warn(message) }, onError });
  const exposed = !auth.enabled && !isLoopback(listenHost);
  log[exposed ? 'warn' : 'info'](
    { url, store: store.kind, auth: auth.enabled ? 'tokens' : 'open' },
    auth.enabled
      ? `statehub hub listening on ${url}`
      : `statehub hub listening on ${url} without tokens${exposed ? ': anyone who can reach it may use it' : ' (loopback only)'}`,
  );

  return {
    url,
    port,
    store: givenStore,
    log,
    io,
    on: (event, hook) => hooks.on(event, hook),
    async close() {
      closing = true;
      relay?.close();
      stopBroadcast();
      stopLag();
      await timers.stop();
      stopGapWatch();
      await probes.stop();
      await webhooks.stop();
      await retention.stop();
      await dispatcher.stop();
      io.disconnectSockets(true);
      // SSE streams and keep-alive requests would hold the server open.
      app.server.closeAllConnections();
      await new Promise<void>((resolve) => io.close(() => resolve()));
      await app.close();
      unsubscribe();
      recent.close();
      stopAvailability();
      live.close();
      feed.close();
      if (ownStore) await givenStore.close();
    },
  };
}

/**
 * What the log shows of an error: its type, message (with its causes'), stack and code. Not the
 * other fields an error may carry, which can hold what a request or a job held: an ioredis error
 * keeps its command's arguments (whole records, payloads and results included).
 */
export function loggedError(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { type: typeof error, message: 'a value that is not an Error was thrown' };
  const { type, message, stack } = pino.stdSerializers.err(error);
  const { code } = error as { code?: unknown };
  return { type, message, stack, ...(typeof code === 'string' || typeof code === 'number' ? { code } : {}) };
}

/**
 * Where the hub's background work (timers, dispatch, retention, hooks) reports failures: one line
 * each, `what` failed (default "hub error") with the error and the context's fields (the actor's
 * id where there is one). A store that does not answer is told once by its availability (above),
 * not by every step that ran into it; the same failure again within a minute is counted, not
 * logged again.
 */
function errorLog(log: Logger): ReportError {
  const seen = new Map<string, { at: number; repeats: number }>();
  return (error, { what = 'hub error', ...fields } = {}) => {
    if (error instanceof StoreUnavailableError) return;
    const key = `${what}: ${error instanceof Error ? error.message : String(error)}`;
    const now = Date.now();
    const last = seen.get(key);
    if (last && now - last.at < 60_000) {
      last.repeats += 1;
      return;
    }
    seen.set(key, { at: now, repeats: 0 });
    if (seen.size > 100) seen.delete(seen.keys().next().value as string);
    const actorId = fields.actorId ?? actorIdOf(error);
    log.error({ err: error, ...fields, ...(actorId === undefined ? {} : { actorId }), ...(last?.repeats ? { repeatedSinceLastLogged: last.repeats } : {}) }, what);
  };
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}
