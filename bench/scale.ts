/**
 * Scale: 2,500 workers x 4 connectors (10,000 connectors) and 100,000 live jobs, and the same at a
 * tenth, so every figure shows how it grows when the counts grow tenfold.
 *
 * - hub heap per actor: heapUsed of the seeded hub minus that of the same hub empty, per actor,
 *   read after forced GCs in the hub's own process (`node --expose-gc`, bench/lib/scale-hub.ts);
 * - a new monitor's snapshot, from this process: GET /api/snapshot on a fresh connection to the
 *   full body (and parsed), and a raw Socket.IO /monitor client without `since` until its
 *   `snapshot` event is received and parsed; bytes and bytes per actor;
 * - resume: a monitor that missed K changes reconnects with `since`: time to `synced` and bytes,
 *   against a fresh snapshot;
 * - baseline in the same run: the empty hub's snapshot times and heap.
 *
 * Quick: memory store, one repetition. Full: memory and Redis (a redis-server of its own), three
 * repetitions, medians.
 */
import { Redis } from 'ioredis';
import { startRedisServer, type RedisServer } from '../test/helpers/redis.js';
import { table } from './lib/stats.js';
import { actorCount } from './lib/scale-population.js';
import { httpGet, httpSnapshot, socketMonitor, type HttpSnapshotTiming, type SocketTiming } from './lib/scale-monitor.js';
import { HubProcess } from './lib/scale-process.js';
import type { HeapReading } from './lib/scale-hub.js';

interface Size {
  label: string;
  workers: number;
  jobs: number;
}

const SIZES: Size[] = [
  { label: '1k connectors + 10k jobs', workers: 250, jobs: 10_000 },
  { label: '10k connectors + 100k jobs', workers: 2_500, jobs: 100_000 },
];
const MISSED = [1_000, 10_000];
const SEED_CHUNK = { memory: 5_000, redis: 2_000 };
const CHANGE_CHUNK = 100;
/** New monitors asking for the snapshot at the same time. */
const CONCURRENT = 4;
const GOAL_SNAPSHOT_MS = 1_000;
const GOAL_BYTES_PER_ACTOR = 5 * 1024;

type StoreKind = 'memory' | 'redis';

interface ResumeFigures {
  missed: number;
  ms: number;
  bytes: number;
  /** The same monitor taking a fresh snapshot instead (socket, median of this case). */
  snapshotMs: number;
  snapshotBytes: number;
}

interface CaseResult {
  store: StoreKind;
  size: Size;
  actors: number;
  emptyHeap: HeapReading;
  heapBytesPerActor: number;
  heapBytesPerActorWithStepCache: number;
  heapAfterMB: number;
  /** Heap growth per change committed after seeding (all still within the log and their actors' histories; the steppers that made them stay alive, as the hub's own do). */
  heapBytesPerChange: number;
  rssAfterMB: number;
  seedMs: number;
  redisBytesPerActor: number | undefined;
  emptyHttpMs: number;
  emptySocketMs: number;
  http: { firstByteMs: number; bodyMs: number; parsedMs: number; bytes: number };
  socket: { snapshotMs: number; syncedMs: number; bytes: number };
  /** The longest the hub's event loop was blocked while serving one new monitor. */
  stallMs: { http: number; socket: number; concurrent: number };
  /** GET /metrics (a Prometheus scrape) and the hub's longest block meanwhile. */
  metrics: { ms: number; stallMs: number };
  /** CONCURRENT new monitors at once: time to the last full body. */
  concurrentMs: number;
  /** Requests of those that failed, over all repetitions, and why. */
  concurrentRefused: string[];
  resumeNothingMs: number;
  resume: ResumeFigures[];
}

function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

async function redisUsedMemory(url: string): Promise<number> {
  const client = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    const info = await client.info('memory');
    return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? Number.NaN);
  } finally {
    client.disconnect();
  }
}

async function flushRedis(url: string): Promise<void> {
  const client = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    await client.flushall();
  } finally {
    client.disconnect();
  }
}

async function measureCase(store: StoreKind, size: Size, repetitions: number, redisUrl: string | undefined, concurrent: boolean): Promise<CaseResult> {
  const expected = actorCount(size.workers, size.jobs);
  if (redisUrl) await flushRedis(redisUrl);
  const hub = await HubProcess.start(redisUrl ? { redis: redisUrl, prefix: 'scale' } : {});
  try {
    // Warm-up (not counted): the first request of a process pays for loading code on both sides.
    await httpSnapshot(hub.url);
    await socketMonitor(hub.url);
    // Baseline: the same hub, empty.
    const emptyHttp: HttpSnapshotTiming[] = [];
    const emptySocket: SocketTiming[] = [];
    for (let rep = 0; rep < repetitions; rep++) {
      emptyHttp.push(await httpSnapshot(hub.url));
      emptySocket.push(await socketMonitor(hub.url));
    }
    const emptyHeap = await hub.heap();
    const redisBefore = redisUrl ? await redisUsedMemory(redisUrl) : undefined;

    const seeded = await hub.seed(size.workers, size.jobs, SEED_CHUNK[store]);
    if (seeded.actors !== expected) throw new Error(`seeded ${seeded.actors} actors, expected ${expected}`);
    const redisAfter = redisUrl ? await redisUsedMemory(redisUrl) : undefined;

    const http: HttpSnapshotTiming[] = [];
    const socket: SocketTiming[] = [];
    const httpStall: number[] = [];
    const socketStall: number[] = [];
    for (let rep = 0; rep < repetitions; rep++) {
      await hub.stallReset();
      const fetched = await httpSnapshot(hub.url);
      httpStall.push(await hub.stallMax());
      if (fetched.records !== expected) throw new Error(`GET /api/snapshot held ${fetched.records} records, expected ${expected}`);
      http.push(fetched);
      await hub.stallReset();
      const received = await socketMonitor(hub.url);
      socketStall.push(await hub.stallMax());
      if (received.via !== 'snapshot' || received.records !== expected) throw new Error(`the socket snapshot held ${received.records} records (${received.via}), expected ${expected}`);
      socket.push(received);
    }
    // A Prometheus scrape: /metrics counts live actors by kind and state.
    const metricsMs: number[] = [];
    const metricsStall: number[] = [];
    for (let rep = 0; rep < repetitions; rep++) {
      await hub.stallReset();
      const scrape = await httpGet(hub.url, '/metrics');
      if (scrape.status !== 200) throw new Error(`GET /metrics answered ${scrape.status}`);
      metricsMs.push(scrape.ms);
      metricsStall.push(await hub.stallMax());
    }
    // Several new monitors at once (a hub restart, a team opening the page): each one is
    // serialized on its own; time to the last full body (not parsed here: the hub's side only).
    // A refusal (e.g. 503: the store timed out) is a finding, not a failure of the bench.
    const together: number[] = [];
    const togetherStall: number[] = [];
    const refused: string[] = [];
    for (let rep = 0; concurrent && rep < repetitions; rep++) {
      await hub.stallReset();
      const started = performance.now();
      const answers = await Promise.allSettled(Array.from({ length: CONCURRENT }, () => httpSnapshot(hub.url, { parse: false })));
      together.push(performance.now() - started);
      togetherStall.push(await hub.stallMax());
      for (const answer of answers) if (answer.status === 'rejected') refused.push((answer.reason as Error).message);
    }
    const socketSnapshotMs = median(socket.map((s) => s.snapshotMs));
    const socketBytes = median(socket.map((s) => s.bytes));

    // Resume: a monitor that stood at `since` reconnects after `missed` changes.
    const resumeNothing: number[] = [];
    const resumed = new Map<number, SocketTiming[]>(MISSED.map((missed) => [missed, []]));
    for (let rep = 0; rep < repetitions; rep++) {
      const here = await hub.offset();
      const nothing = await socketMonitor(hub.url, here);
      if (nothing.via !== 'replay' || nothing.transitions !== 0) throw new Error(`a resume that missed nothing got ${nothing.via} with ${nothing.transitions} changes`);
      resumeNothing.push(nothing.syncedMs);
      for (const missed of MISSED) {
        const since = await hub.offset();
        await hub.changes(missed, CHANGE_CHUNK);
        const timing = await socketMonitor(hub.url, since);
        if (timing.via !== 'replay' || timing.transitions !== missed) throw new Error(`resuming after ${missed} changes got ${timing.via} with ${timing.transitions} changes`);
        resumed.get(missed)!.push(timing);
      }
    }

    // What the changes cost the hub's heap: each is kept in the log (and in its actor's history).
    const changed = repetitions * MISSED.reduce((sum, missed) => sum + missed, 0);
    const afterChanges = await hub.heap();

    return {
      store,
      size,
      heapBytesPerChange: (afterChanges.heapUsed - seeded.after.heapUsed) / changed,
      actors: seeded.actors,
      emptyHeap,
      heapBytesPerActor: (seeded.after.heapUsed - emptyHeap.heapUsed) / seeded.actors,
      heapBytesPerActorWithStepCache: (seeded.withStepCache.heapUsed - emptyHeap.heapUsed) / seeded.actors,
      heapAfterMB: seeded.after.heapUsed / 1e6,
      rssAfterMB: seeded.after.rss / 1e6,
      seedMs: seeded.seedMs,
      redisBytesPerActor: redisBefore !== undefined && redisAfter !== undefined ? (redisAfter - redisBefore) / seeded.actors : undefined,
      emptyHttpMs: median(emptyHttp.map((h) => h.bodyMs)),
      emptySocketMs: median(emptySocket.map((s) => s.snapshotMs)),
      http: {
        firstByteMs: median(http.map((h) => h.firstByteMs)),
        bodyMs: median(http.map((h) => h.bodyMs)),
        parsedMs: median(http.map((h) => h.parsedMs)),
        bytes: median(http.map((h) => h.bytes)),
      },
      socket: { snapshotMs: socketSnapshotMs, syncedMs: median(socket.map((s) => s.syncedMs)), bytes: socketBytes },
      stallMs: { http: median(httpStall), socket: median(socketStall), concurrent: median(togetherStall) },
      concurrentMs: median(together),
      metrics: { ms: median(metricsMs), stallMs: median(metricsStall) },
      concurrentRefused: refused,
      resumeNothingMs: median(resumeNothing),
      resume: MISSED.map((missed) => {
        const timings = resumed.get(missed)!;
        return { missed, ms: median(timings.map((t) => t.syncedMs)), bytes: median(timings.map((t) => t.bytes)), snapshotMs: socketSnapshotMs, snapshotBytes: socketBytes };
      }),
    };
  } finally {
    await hub.stop();
  }
}

const round = (value: number, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;
const ratio = (big: number, small: number) => round(big / small, 2);

function resumeSection(result: CaseResult) {
  return {
    actors: result.actors,
    nothing_missed_ms: round(result.resumeNothingMs),
    ...Object.fromEntries(
      result.resume.map((r) => [
        `missed_${r.missed}`,
        {
          ms: round(r.ms),
          bytes: r.bytes,
          bytes_per_change: round(r.bytes / r.missed),
          fresh_snapshot_ms: round(r.snapshotMs),
          fresh_snapshot_bytes: r.snapshotBytes,
          time_vs_snapshot: round(r.ms / r.snapshotMs, 3),
          bytes_vs_snapshot: round(r.bytes / r.snapshotBytes, 3),
        },
      ]),
    ),
  };
}

function growthSection(small: CaseResult, large: CaseResult) {
  return {
    actors: ratio(large.actors, small.actors),
    heap_bytes_per_actor: ratio(large.heapBytesPerActor, small.heapBytesPerActor),
    snapshot_ms: ratio(large.http.bodyMs, small.http.bodyMs),
    snapshot_bytes: ratio(large.http.bytes, small.http.bytes),
    snapshot_bytes_per_actor: ratio(large.http.bytes / large.actors, small.http.bytes / small.actors),
    socket_snapshot_ms: ratio(large.socket.snapshotMs, small.socket.snapshotMs),
    hub_stall_ms: ratio(Math.max(large.stallMs.http, large.stallMs.socket), Math.max(small.stallMs.http, small.stallMs.socket)),
    ...Object.fromEntries(large.resume.map((r, index) => [`resume_${r.missed}_ms`, ratio(r.ms, small.resume[index]!.ms)])),
    seed_ms: ratio(large.seedMs, small.seedMs),
  };
}

export async function run(options: { quick: boolean }): Promise<Record<string, unknown>> {
  const repetitions = options.quick ? 1 : 3;
  const stores: StoreKind[] = options.quick ? ['memory'] : ['memory', 'redis'];
  const started = performance.now();
  const results: CaseResult[] = [];
  for (const store of stores) {
    let redis: RedisServer | undefined;
    // Should this process die without reaching `finally`, its redis-server must not outlive it.
    const killRedis = () => redis?.process.kill('SIGKILL');
    process.once('exit', killRedis);
    try {
      if (store === 'redis') redis = await startRedisServer();
      for (const size of SIZES) {
        // Quick mode skips several monitors at once (it adds about 5 s at 100k actors).
        const result = await measureCase(store, size, repetitions, redis?.url, !options.quick);
        results.push(result);
        console.log(
          `${store}, ${size.label}: ${result.actors.toLocaleString('en-US')} actors seeded in ${(result.seedMs / 1000).toFixed(1)} s; ` +
            `snapshot ${result.http.bodyMs.toFixed(0)} ms (HTTP) / ${result.socket.snapshotMs.toFixed(0)} ms (socket)`,
        );
      }
    } finally {
      process.off('exit', killRedis);
      await redis?.stop();
    }
  }

  const find = (store: StoreKind, index: number) => results.find((r) => r.store === store && r.size === SIZES[index])!;
  const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

  console.log(`\nhub heap and a new monitor's snapshot (${repetitions === 1 ? 'one run' : `median of ${repetitions}`}; empty hub = baseline, same process)\n`);
  table(
    ['store', 'case', 'actors', 'empty hub heap', 'heap seeded', 'heap B/actor', 'with step cache B/actor', 'seed', 'GET first byte', 'GET full body', 'GET parsed', 'socket snapshot', 'x empty hub', 'snapshot', 'B/actor'],
    results.flatMap((r) => [
      [r.store, 'empty hub', '0', mb(r.emptyHeap.heapUsed), '', '', '', '', '', `${r.emptyHttpMs.toFixed(1)} ms`, '', `${r.emptySocketMs.toFixed(1)} ms`, '1x', '', ''],
      [
        r.store,
        r.size.label,
        r.actors,
        mb(r.emptyHeap.heapUsed),
        mb(r.heapAfterMB * 1e6),
        r.heapBytesPerActor,
        r.heapBytesPerActorWithStepCache,
        `${(r.seedMs / 1000).toFixed(1)} s`,
        `${r.http.firstByteMs.toFixed(0)} ms`,
        `${r.http.bodyMs.toFixed(0)} ms`,
        `${r.http.parsedMs.toFixed(0)} ms`,
        `${r.socket.snapshotMs.toFixed(0)} ms`,
        `${(r.socket.snapshotMs / r.emptySocketMs).toFixed(0)}x`,
        mb(r.http.bytes),
        r.http.bytes / r.actors,
      ],
    ]),
  );
  console.log(`\nthe hub while it serves new monitors: its longest event-loop block, and ${CONCURRENT} new monitors at once (GET, time to the last full body)\n`);
  table(
    ['store', 'case', 'actors', 'hub blocked (GET)', 'hub blocked (socket)', `${CONCURRENT} at once: last answer`, `${CONCURRENT} at once: hub blocked`, `${CONCURRENT} at once: refused`, 'one GET full body', 'GET /metrics', '/metrics: hub blocked'],
    results.map((r) => [
      r.store,
      r.size.label,
      r.actors,
      `${r.stallMs.http.toFixed(0)} ms`,
      `${r.stallMs.socket.toFixed(0)} ms`,
      options.quick ? 'full mode' : `${r.concurrentMs.toFixed(0)} ms`,
      options.quick ? '' : `${r.stallMs.concurrent.toFixed(0)} ms`,
      options.quick ? '' : `${r.concurrentRefused.length} of ${CONCURRENT * repetitions}`,
      `${r.http.bodyMs.toFixed(0)} ms`,
      `${r.metrics.ms.toFixed(0)} ms`,
      `${r.metrics.stallMs.toFixed(0)} ms`,
    ]),
  );
  for (const r of results) if (r.concurrentRefused.length > 0) console.log(`${r.store}, ${r.size.label}: ${r.concurrentRefused[0]}`);
  const redisRows = results.filter((r) => r.redisBytesPerActor !== undefined);
  if (redisRows.length > 0) {
    console.log('\nRedis memory: used_memory after seeding minus before, per actor\n');
    table(['case', 'actors', 'Redis B/actor'], redisRows.map((r) => [r.size.label, r.actors, r.redisBytesPerActor!]));
  }

  console.log(`\nresume with since: time to 'synced' and bytes, against a fresh socket snapshot of the same hub\n`);
  table(
    ['store', 'case', 'missed', 'resume', 'bytes', 'B/change', 'fresh snapshot', 'time vs snapshot', 'bytes vs snapshot'],
    results.flatMap((r) => [
      [r.store, r.size.label, '0', `${r.resumeNothingMs.toFixed(1)} ms`, '', '', `${r.socket.snapshotMs.toFixed(0)} ms`, `${((r.resumeNothingMs / r.socket.snapshotMs) * 100).toFixed(1)}%`, ''],
      ...r.resume.map((x) => [
        r.store,
        r.size.label,
        x.missed,
        `${x.ms.toFixed(1)} ms`,
        mb(x.bytes),
        x.bytes / x.missed,
        `${x.snapshotMs.toFixed(0)} ms`,
        `${((x.ms / x.snapshotMs) * 100).toFixed(1)}%`,
        `${((x.bytes / x.snapshotBytes) * 100).toFixed(1)}%`,
      ]),
    ]),
  );

  const growth = Object.fromEntries(stores.map((store) => [store, growthSection(find(store, 0), find(store, 1))]));
  console.log('\ngrowth: the 10x case over the 1x case (counts grow 10x; linear = 10 for totals, 1 for per-actor figures)\n');
  table(
    ['store', 'heap B/actor', 'snapshot time (GET)', 'snapshot time (socket)', 'snapshot bytes', 'B/actor', ...MISSED.map((m) => `resume ${m.toLocaleString('en-US')}`), 'seed time'],
    stores.map((store) => {
      const g = growth[store]!;
      return [store, `${g.heap_bytes_per_actor}x`, `${g.snapshot_ms}x`, `${g.socket_snapshot_ms}x`, `${g.snapshot_bytes}x`, `${g.snapshot_bytes_per_actor}x`, ...MISSED.map((m) => `${(g as Record<string, number>)[`resume_${m}_ms`]}x`), `${g.seed_ms}x`];
    }),
  );

  const main = find('memory', 1);
  const goals = {
    snapshot_under_1s_http: main.http.bodyMs < GOAL_SNAPSHOT_MS,
    snapshot_under_1s_http_parsed: main.http.parsedMs < GOAL_SNAPSHOT_MS,
    snapshot_under_1s_socket: main.socket.snapshotMs < GOAL_SNAPSHOT_MS,
    bytes_per_actor_under_5KB: main.http.bytes / main.actors <= GOAL_BYTES_PER_ACTOR,
  };
  console.log(`\ngoals at ${main.actors.toLocaleString('en-US')} actors (memory): snapshot < 1 s: GET ${goals.snapshot_under_1s_http ? 'yes' : 'NO'} (${main.http.bodyMs.toFixed(0)} ms), parsed ${goals.snapshot_under_1s_http_parsed ? 'yes' : 'NO'} (${main.http.parsedMs.toFixed(0)} ms), socket ${goals.snapshot_under_1s_socket ? 'yes' : 'NO'} (${main.socket.snapshotMs.toFixed(0)} ms); <= 5 KB per actor: ${goals.bytes_per_actor_under_5KB ? 'yes' : 'NO'} (${(main.http.bytes / main.actors).toFixed(0)} B)`);

  const caseSection = (r: CaseResult) => ({
    store: r.store,
    case: r.size.label,
    workers: r.size.workers,
    connectors: r.size.workers * 4,
    jobs: r.size.jobs,
    actors: r.actors,
    empty_heap_bytes: r.emptyHeap.heapUsed,
    heap_bytes_per_actor: round(r.heapBytesPerActor),
    heap_bytes_per_actor_with_step_cache: round(r.heapBytesPerActorWithStepCache),
    heap_mb: round(r.heapAfterMB),
    heap_bytes_per_change: round(r.heapBytesPerChange),
    rss_mb: round(r.rssAfterMB),
    seed_ms: round(r.seedMs),
    ...(r.redisBytesPerActor !== undefined ? { redis_bytes_per_actor: round(r.redisBytesPerActor) } : {}),
    snapshot_first_byte_ms: round(r.http.firstByteMs),
    snapshot_ms: round(r.http.bodyMs),
    snapshot_parsed_ms: round(r.http.parsedMs),
    snapshot_bytes: r.http.bytes,
    snapshot_bytes_per_actor: round(r.http.bytes / r.actors),
    socket_snapshot_ms: round(r.socket.snapshotMs),
    socket_synced_ms: round(r.socket.syncedMs),
    socket_snapshot_bytes: r.socket.bytes,
    hub_stall_ms_http: round(r.stallMs.http),
    hub_stall_ms_socket: round(r.stallMs.socket),
    ...(options.quick
      ? {}
      : {
          [`concurrent_${CONCURRENT}_snapshots_ms`]: round(r.concurrentMs),
          [`concurrent_${CONCURRENT}_hub_stall_ms`]: round(r.stallMs.concurrent),
          [`concurrent_${CONCURRENT}_refused`]: r.concurrentRefused.length,
          ...(r.concurrentRefused.length > 0 ? { concurrent_refusal: r.concurrentRefused[0] } : {}),
        }),
    metrics_scrape_ms: round(r.metrics.ms),
    metrics_scrape_hub_stall_ms: round(r.metrics.stallMs),
    empty_snapshot_ms: round(r.emptyHttpMs, 2),
    empty_socket_snapshot_ms: round(r.emptySocketMs, 2),
  });

  return {
    repetitions,
    stores,
    heap_bytes_per_actor: round(main.heapBytesPerActor),
    heap_bytes_per_actor_with_step_cache: round(main.heapBytesPerActorWithStepCache),
    snapshot_ms_100k: round(main.http.bodyMs),
    snapshot_parsed_ms_100k: round(main.http.parsedMs),
    snapshot_bytes_per_actor: round(main.http.bytes / main.actors),
    socket_snapshot_ms_100k: round(main.socket.snapshotMs),
    hub_stall_ms_100k: { http: round(main.stallMs.http), socket: round(main.stallMs.socket) },
    heap_bytes_per_change_100k: round(main.heapBytesPerChange),
    ...(options.quick ? {} : { [`concurrent_${CONCURRENT}_snapshots_ms_100k`]: round(main.concurrentMs) }),
    ...(stores.includes('redis')
      ? (() => {
          const r = find('redis', 1);
          return {
            redis_100k: {
              heap_bytes_per_actor: round(r.heapBytesPerActor),
              redis_bytes_per_actor: round(r.redisBytesPerActor ?? Number.NaN),
              snapshot_ms: round(r.http.bodyMs),
              socket_snapshot_ms: round(r.socket.snapshotMs),
              [`concurrent_${CONCURRENT}_refused`]: r.concurrentRefused.length,
            },
          };
        })()
      : {}),
    baseline: Object.fromEntries(
      stores.map((store) => {
        const r = find(store, 1);
        return [store, { empty_heap_bytes: r.emptyHeap.heapUsed, snapshot_ms: round(r.emptyHttpMs, 2), socket_snapshot_ms: round(r.emptySocketMs, 2) }];
      }),
    ),
    resume: Object.fromEntries(stores.map((store) => [store, { [SIZES[0]!.label]: resumeSection(find(store, 0)), [SIZES[1]!.label]: resumeSection(find(store, 1)) }])),
    growth,
    goals,
    cases: results.map(caseSection),
    seconds: round((performance.now() - started) / 1000),
  };
}
