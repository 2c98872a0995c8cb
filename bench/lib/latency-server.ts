/**
 * Latency bench, the producing side (a child process): a hub on the memory or Redis store, or a
 * raw Socket.IO server (the baseline: no store, no hub, it broadcasts what the generator makes),
 * plus a generator committing job records at a target rate, each stamped with its commit time.
 *
 *   node --import tsx bench/lib/latency-server.ts memory|redis|raw [REDIS_URL]
 */
import { createServer } from 'node:http';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { Server } from 'socket.io';
import { startHub, type Hub } from '../../src/hub/hub.js';
import type { ActorRecord, LogEntry } from '../../src/protocol/record.js';
import { cpuMeter, failed, ready, serve, wallNow } from './children.js';
import { Histogram } from './histogram.js';
import { JobStream, stampTime, type Stamp } from './job-stream.js';

export type Mode = 'raw' | 'memory' | 'redis';

export interface RunRequest {
  cell: string;
  rate: number;
  warmupMs: number;
  measureMs: number;
}

export interface RunResult {
  /** Changes committed in the measured window (the monitors should each get all of them). */
  measured: number;
  /** Changes per second actually committed in the measured window. */
  achievedRate: number;
  commits: number;
  errors: number;
  firstError?: string;
  /** CPU of this process (hub + generator) in the measured window, % of one core. */
  cpuPct: number;
  /** Event-loop delay of this process in the measured window. */
  loopDelayP99Ms: number;
  /** Garbage-collection pauses in the measured window: the longest and their sum. */
  gcMaxMs: number;
  gcTotalMs: number;
  /** JS heap in use at the end of the cell. */
  heapUsedMB: number;
  /** Commit to the store's subscribers in this process (the Redis tail's lag); absent for raw. */
  delivered?: ReturnType<Histogram['toData']>;
}

/** Most commits in flight at once (Redis): past it, the generator waits and its next batch is larger. */
const MAX_IN_FLIGHT = 64;
/**
 * Most changes in one commit, as in POST /api/jobs/batch. A generator that fell behind catches up
 * over several ticks (the Redis store also cannot take much more than 10,000 records in one
 * commit: it spreads 11 arguments per record into one call).
 */
const MAX_BATCH = 1_000;

interface Target {
  url: string;
  publish(records: ActorRecord[]): Promise<unknown> | void;
  close(): Promise<void>;
}

async function rawServer(): Promise<Target> {
  const http = createServer((_request, response) => response.writeHead(404).end());
  const io = new Server(http, { serveClient: false, perMessageDeflate: false, httpCompression: false, cors: { origin: true } });
  const live = new Map<string, ActorRecord>();
  let n = 0;
  const monitors = io.of('/monitor');
  monitors.on('connection', (socket) => {
    const offset = String(n);
    socket.emit('snapshot', { offset, records: [...live.values()] });
    socket.emit('synced', { offset, via: 'snapshot' });
    void socket.join('live');
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const address = http.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    publish(records) {
      const entries: LogEntry[] = records.map((record) => ({ offset: String(++n), record }));
      for (const record of records) {
        if (record.removed) live.delete(record.id);
        else live.set(record.id, record);
      }
      monitors.to('live').emit('transitions', entries);
    },
    async close() {
      io.disconnectSockets(true);
      http.closeAllConnections();
      await new Promise<void>((resolve) => io.close(() => resolve()));
    },
  };
}

async function hubServer(mode: 'memory' | 'redis', redisUrl: string | undefined): Promise<Target & { hub: Hub }> {
  const hub = await startHub({
    port: 0,
    logger: false,
    ...(mode === 'redis' ? { redis: redisUrl, redisPrefix: `bench-latency-${process.pid}` } : {}),
    // The generator removes its jobs itself; retention would only add removals of its own.
    retention: { keepFinishedMs: 3_600_000, maxFinished: 10_000_000 },
  });
  return {
    hub,
    url: hub.url,
    publish: (records) => hub.store.commit({ records }),
    close: () => hub.close(),
  };
}

async function main(): Promise<void> {
  const mode = process.argv[2] as Mode;
  const redisUrl = process.argv[3];
  if (!['raw', 'memory', 'redis'].includes(mode)) throw new Error(`mode must be raw, memory or redis, not ${mode}`);
  const hub = mode === 'raw' ? undefined : await hubServer(mode, redisUrl);
  const target: Target = hub ?? (await rawServer());
  const stream = new JobStream(500);

  // Commit -> this hub's store subscribers: immediate for memory, the tail's lag for Redis.
  let delivered: Histogram | undefined;
  let deliveredCell = '';
  if (hub) {
    hub.hub.store.subscribe((entries) => {
      if (!delivered) return;
      const now = wallNow();
      for (const { record } of entries) {
        const stamp = record.snapshot.context as unknown as Stamp;
        if (stamp.bm === 1 && stamp.bc === deliveredCell) delivered.record(now - stamp.t);
      }
    });
  }

  const runCell = (request: RunRequest) =>
    new Promise<RunResult>((resolve) => {
      const { cell, rate, warmupMs, measureMs } = request;
      delivered = hub ? new Histogram() : undefined;
      deliveredCell = cell;
      const started = performance.now();
      let sent = 0;
      let measured = 0;
      let commits = 0;
      let errors = 0;
      let firstError: string | undefined;
      let inFlight = 0;
      let measuring = false;
      let measureStarted = 0;
      let cpu = cpuMeter();
      const loop = monitorEventLoopDelay({ resolution: 1 });
      const gc = { max: 0, total: 0 };
      const gcObserver = new PerformanceObserver((list) => {
        if (!measuring) return;
        for (const entry of list.getEntries()) {
          gc.max = Math.max(gc.max, entry.duration);
          gc.total += entry.duration;
        }
      });
      gcObserver.observe({ entryTypes: ['gc'] });
      const settled: Array<Promise<unknown>> = [];
      const finish = async () => {
        const cpuPct = cpu();
        loop.disable();
        gcObserver.disconnect();
        const elapsed = performance.now() - measureStarted;
        await Promise.allSettled(settled);
        resolve({
          measured,
          achievedRate: (measured / elapsed) * 1000,
          commits,
          errors,
          ...(firstError ? { firstError } : {}),
          cpuPct,
          loopDelayP99Ms: loop.percentile(99) / 1e6,
          gcMaxMs: gc.max,
          gcTotalMs: gc.total,
          heapUsedMB: process.memoryUsage().heapUsed / 1e6,
          ...(delivered ? { delivered: delivered.toData() } : {}),
        });
      };
      const tick = () => {
        const elapsed = performance.now() - started;
        if (!measuring && elapsed >= warmupMs) {
          measuring = true;
          measureStarted = performance.now();
          cpu = cpuMeter();
          loop.enable();
        }
        if (elapsed >= warmupMs + measureMs) return void finish();
        const due = Math.min(MAX_BATCH, Math.floor((rate * elapsed) / 1000) - sent);
        if (due > 0 && inFlight < MAX_IN_FLIGHT) {
          const records = stream.take(due, { t: 0, bc: cell, bm: measuring ? 1 : 0 });
          stampTime(records, wallNow());
          const done = target.publish(records);
          sent += due;
          if (measuring) measured += due;
          commits += 1;
          if (done) {
            inFlight += 1;
            // Only the measured window's commits need waiting for; the rest just must not pile up.
            const tracked = done.then(
              () => (inFlight -= 1),
              (error: unknown) => {
                inFlight -= 1;
                errors += 1;
                firstError ??= (error as Error).message;
              },
            );
            if (measuring) settled.push(tracked);
          }
        }
        setTimeout(tick, 1);
      };
      tick();
    });

  serve({ run: (request) => runCell(request as unknown as RunRequest) }, () => target.close());
  ready({ url: target.url });
}

main().catch(failed);
