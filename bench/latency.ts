/**
 * Latency: from the moment a change is committed to the moment a monitor in another process has
 * applied it, at 500, 2,000 and 10,000 changes/s with 1, 50 and 200 monitors, on the memory and
 * the Redis store (a redis-server of its own).
 *
 * - A child process runs the hub and a generator that commits job records (built by the real job
 *   machine, moving through their states, seq +1 per change) straight through
 *   `hub.store.commit`: one commit per millisecond tick holding the changes due, each stamped
 *   with `performance.timeOrigin + performance.now()` just before the commit.
 * - Other processes hold the monitor connections (socket.io-client, WebSocket, one connection
 *   each). A few of them, spread over the join order, are full monitors: they decode every
 *   batch, apply it to a View and record now - commit time per change. The rest are sinks that
 *   read every frame without JSON-decoding it (see bench/lib/latency-monitors.ts): the hub does
 *   exactly the same work for them, and this machine's CPU is not spent decoding the same
 *   records fifty times over, which in production happens on the monitors' own machines.
 *   Full mode adds a cell where all 50 monitors decode, to show what that costs here.
 * - Clocks: each process's clock offset to this one is measured over IPC (best of 40 round
 *   trips, ~0.1 ms) and corrected for.
 * - Baseline, same run: a raw Socket.IO server broadcasting the generator's batches (no store,
 *   no hub) to the same monitors; the ratio is hub p99 / raw p99.
 * - Each cell warms up, then measures; warm-up changes are tagged and not counted. CPU of every
 *   process involved, and of the rest of the machine, is read from /proc over the measured
 *   window: a cell disturbed by other processes is measured again, and a cell where every core
 *   was busy is flagged as showing this machine's limit.
 *
 *   node --import tsx -e "const m = await import('./bench/latency.ts'); console.log(await m.run({ quick: true }))"
 */
import { cpus } from 'node:os';
import { Redis } from 'ioredis';
import { startRedisServer, type RedisServer } from '../test/helpers/redis.js';
import { clockOffset, CpuWindow, startChild, type Child } from './lib/children.js';
import { Histogram } from './lib/histogram.js';
import type { CellCounts, CellSamples } from './lib/latency-monitors.js';
import type { Mode, RunRequest, RunResult } from './lib/latency-server.js';
import { table } from './lib/stats.js';

const SERVER = new URL('./lib/latency-server.ts', import.meta.url);
const MONITORS = new URL('./lib/latency-monitors.ts', import.meta.url);
const CORES = cpus().length;
/** Full monitors among the connections (the rest are sinks), unless a group says otherwise. */
const PROBES = 4;
/** The cell the project's goals are about. */
const GOAL_RATE = 2_000;
const GOAL_MONITORS = 50;
const GOALS = { memory: 5, redis: 10 } as const;
/** Issue 9: hub p99 over raw Socket.IO's p99 at the goal cell, same run. */
const GOALS_VS_RAW = { memory: 1.1, redis: 1.25 } as const;
/** A cell measured while other processes took more than this much CPU (% of one core) is measured again. */
const NOISY_NEIGHBOURS_PCT = 30;

export interface Cell {
  store: Mode;
  monitors: number;
  /** Monitors that decode and apply every change, and measure (the others read every frame). */
  decoding: number;
  rate: number;
  achieved_rate: number;
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
  mean_ms: number;
  samples: number;
  /** Changes received by the decoding monitors / (changes committed x decoding monitors). */
  delivered: number;
  disconnects: number;
  /** What the non-decoding monitors read, per second over the whole cell: event frames and wire bytes. */
  sink_events_per_s: number;
  sink_mb_per_s: number;
  seq_problems: number;
  commit_errors: number;
  /** Commit to the hub's store subscribers (Redis: the stream tail). */
  store_delivery_p50_ms?: number;
  store_delivery_p99_ms?: number;
  /** % of one core over the measured window: the hub process (with its generator), the monitor processes, redis-server. */
  hub_cpu_pct: number;
  monitors_cpu_pct: number;
  redis_cpu_pct?: number;
  /** CPU other processes on this machine took meanwhile (% of one core): high means a noisy neighbour. */
  others_cpu_pct: number;
  /** Every core busy, or a monitor process pegged: what the cell shows is this machine's limit, not the hub's. */
  saturated: boolean;
  /** Times the cell was measured (again when other processes took the CPU). */
  attempts: number;
  hub_loop_delay_p99_ms: number;
  /** Garbage collection in the hub process over the measured window, and its heap at the end. */
  hub_gc_max_pause_ms: number;
  hub_gc_total_ms: number;
  hub_heap_mb: number;
}

interface Group {
  monitors: number;
  decoding: number;
  rates: number[];
}

interface Plan {
  stores: Mode[];
  groups: Group[];
  warmupMs: number;
  measureMs: number;
  /** Re-measure noisy cells only while the bench has run less than this, and at most this many times. */
  retryUntilMs: number;
  attempts: number;
}

const RATES = [500, 2_000, 10_000];

export async function run(options: { quick: boolean }): Promise<Record<string, unknown>> {
  const plan: Plan = options.quick
    ? { stores: ['raw', 'memory', 'redis'], groups: [{ monitors: GOAL_MONITORS, decoding: PROBES, rates: [GOAL_RATE] }], warmupMs: 1_500, measureMs: 4_000, retryUntilMs: 25_000, attempts: 2 }
    : {
        stores: ['raw', 'memory', 'redis'],
        groups: [
          { monitors: 1, decoding: 1, rates: RATES },
          { monitors: 50, decoding: PROBES, rates: RATES },
          { monitors: 200, decoding: PROBES, rates: RATES },
          { monitors: 50, decoding: 50, rates: [GOAL_RATE] },
        ],
        warmupMs: 2_000,
        measureMs: 5_000,
        retryUntilMs: 20 * 60_000,
        attempts: 3,
      };
  const started = Date.now();
  const cleanups: Array<() => Promise<void>> = [];
  let redis: RedisServer | undefined;
  // Ctrl-C or a kill: no redis-server left behind (children exit with their IPC channel).
  const onSignal = (signal: NodeJS.Signals) => {
    redis?.process.kill('SIGKILL');
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const cells: Cell[] = [];
  const clocks: Array<{ process: string; offset_ms: number; uncertainty_ms: number }> = [];
  try {
    if (plan.stores.includes('redis')) {
      redis = await startRedisServer();
      const server = redis;
      cleanups.push(() => server.stop());
    }
    for (const store of plan.stores) {
      for (const group of plan.groups) {
        // A fresh hub (and an empty Redis) per group: what an overloaded cell left behind
        // (a backlog, a grown archive) must not weigh on the next one.
        if (store === 'redis' && redis) await flushRedis(redis);
        const server = await startChild(SERVER, [store, redis?.url ?? '']);
        cleanups.push(() => server.stop());
        const serverClock = await clockOffset(server);
        clocks.push({ process: `${store} server`, offset_ms: serverClock.offset, uncertainty_ms: serverClock.uncertainty });
        const observers = await Promise.all(
          split(group.monitors, group.decoding).map(([count, decoding]) =>
            startChild(MONITORS, [server.hello.url as string, String(count), String(decoding)], { readyTimeoutMs: 120_000 }),
          ),
        );
        cleanups.push(() => Promise.all(observers.map((observer) => observer.stop())).then(() => {}));
        for (const observer of observers) {
          const clock = await clockOffset(observer);
          clocks.push({ process: `${store} monitors x${observer.hello.monitors as number}`, offset_ms: clock.offset, uncertainty_ms: clock.uncertainty });
          await observer.request('calibrate', { correction: serverClock.offset - clock.offset });
        }
        for (const rate of group.rates) {
          const spec = { store, monitors: group.monitors, decoding: group.decoding, rate, warmupMs: plan.warmupMs, measureMs: plan.measureMs };
          let cell = await measureCell(server, observers, store === 'redis' ? redis : undefined, spec);
          // Another process took the CPU meanwhile (this machine may be shared): measure again, keep the quietest.
          let last = cell;
          for (let attempt = 2; attempt <= plan.attempts && last.others_cpu_pct > NOISY_NEIGHBOURS_PCT && Date.now() - started < plan.retryUntilMs; attempt++) {
            console.log(`  ${label(cell)}: other processes took ${Math.round(last.others_cpu_pct)}% CPU, measuring again`);
            last = await measureCell(server, observers, store === 'redis' ? redis : undefined, spec);
            cell = { ...(last.others_cpu_pct < cell.others_cpu_pct ? last : cell), attempts: attempt };
          }
          cells.push(cell);
          console.log(
            `  ${label(cell)}: p50 ${cell.p50_ms.toFixed(2)} ms, p99 ${cell.p99_ms.toFixed(2)} ms, max ${cell.max_ms.toFixed(2)} ms` +
              ` (CPU hub ${cell.hub_cpu_pct.toFixed(0)}%, monitors ${cell.monitors_cpu_pct.toFixed(0)}%, other processes ${cell.others_cpu_pct.toFixed(0)}%;` +
              ` delivered ${(cell.delivered * 100).toFixed(1)}%${cell.saturated ? '; CPU saturated' : ''})`,
          );
        }
        await Promise.all(observers.map((observer) => observer.stop()));
        cleanups.pop();
        await server.stop();
        cleanups.pop();
      }
    }
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((error: unknown) => console.error(`latency bench cleanup: ${(error as Error).message}`));
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }

  const find = (store: Mode, monitors = GOAL_MONITORS, rate = GOAL_RATE, decoding = Math.min(monitors, PROBES)) =>
    cells.find((cell) => cell.store === store && cell.monitors === monitors && cell.rate === rate && cell.decoding === decoding);
  const ratio = (cell: Cell) => {
    const raw = find('raw', cell.monitors, cell.rate, cell.decoding);
    return raw && raw.p99_ms > 0 ? cell.p99_ms / raw.p99_ms : Number.NaN;
  };

  console.log(
    `\nlatency, commit -> applied by a monitor in another process (${plan.measureMs / 1000} s measured per cell after ${plan.warmupMs / 1000} s warm-up; ${CORES} cores)\n`,
  );
  table(
    ['store', 'monitors (decoding)', 'changes/s (achieved)', 'p50 ms', 'p99 ms', 'max ms', 'p99 / raw p99', 'delivered', 'CPU saturated', 'CPU hub / monitors / redis', 'CPU others', 'hub loop delay p99 ms', 'hub GC max pause ms (heap MB)', 'store -> hub p50 / p99 ms'],
    cells.map((cell) => [
      cell.store === 'raw' ? 'raw Socket.IO (baseline)' : cell.store,
      `${cell.monitors} (${cell.decoding})`,
      `${cell.rate.toLocaleString('en-US')} (${Math.round(cell.achieved_rate).toLocaleString('en-US')})`,
      cell.p50_ms,
      cell.p99_ms,
      cell.max_ms,
      cell.store === 'raw' ? '1' : `${ratio(cell).toFixed(2)}x`,
      `${(cell.delivered * 100).toFixed(1)}%${cell.disconnects > 0 ? ` (${cell.disconnects} cut off)` : ''}`,
      cell.saturated ? 'yes' : 'no',
      `${Math.round(cell.hub_cpu_pct)}% / ${Math.round(cell.monitors_cpu_pct)}% / ${cell.redis_cpu_pct === undefined ? '-' : `${Math.round(cell.redis_cpu_pct)}%`}`,
      `${Math.round(cell.others_cpu_pct)}%`,
      cell.hub_loop_delay_p99_ms,
      `${fmt(cell.hub_gc_max_pause_ms)} (${Math.round(cell.hub_heap_mb)})`,
      cell.store_delivery_p99_ms === undefined ? '-' : `${fmt(cell.store_delivery_p50_ms)} / ${fmt(cell.store_delivery_p99_ms)}`,
    ]),
  );

  const summary = (cell: Cell | undefined) =>
    cell && {
      p50_ms: cell.p50_ms,
      p99_ms: cell.p99_ms,
      max_ms: cell.max_ms,
      ratio_to_baseline_p99: ratio(cell),
      monitors: cell.monitors,
      decoding_monitors: cell.decoding,
      saturated: cell.saturated,
      others_cpu_pct: cell.others_cpu_pct,
    };
  const goal = (store: 'memory' | 'redis') => {
    const cell = summary(find(store));
    return (
      cell && {
        ...cell,
        goal_p99_ms: GOALS[store],
        met: cell.p99_ms <= GOALS[store],
        p99_vs_raw: cell.ratio_to_baseline_p99,
        goal_p99_vs_raw: GOALS_VS_RAW[store],
        met_vs_raw: cell.ratio_to_baseline_p99 !== undefined && cell.ratio_to_baseline_p99 <= GOALS_VS_RAW[store],
      }
    );
  };
  const memory = goal('memory');
  const redisCell = goal('redis');
  const raw = summary(find('raw'));
  console.log(
    `\nat ${GOAL_RATE.toLocaleString('en-US')} changes/s x ${GOAL_MONITORS} monitors: memory p99 ${fmt(memory?.p99_ms)} ms (goal <= ${GOALS.memory}: ${memory?.met ? 'met' : 'NOT met'}),` +
      ` redis p99 ${fmt(redisCell?.p99_ms)} ms (goal <= ${GOALS.redis}: ${redisCell?.met ? 'met' : 'NOT met'}), raw Socket.IO p99 ${fmt(raw?.p99_ms)} ms;` +
      ` hub p99 / raw p99: memory ${fmt(memory?.ratio_to_baseline_p99)}x (goal <= ${GOALS_VS_RAW.memory}x: ${memory?.met_vs_raw ? 'met' : 'NOT met'}),` +
      ` redis ${fmt(redisCell?.ratio_to_baseline_p99)}x (goal <= ${GOALS_VS_RAW.redis}x: ${redisCell?.met_vs_raw ? 'met' : 'NOT met'})`,
  );
  const allDecoding = (store: Mode) => summary(find(store, GOAL_MONITORS, GOAL_RATE, GOAL_MONITORS));
  return {
    memory,
    redis: redisCell,
    baseline: raw && { what: 'raw Socket.IO broadcast of the same generator to the same monitors, no store, no hub', ...raw },
    ...(allDecoding('memory') ? { all_monitors_decoding: { memory: allDecoding('memory'), redis: allDecoding('redis'), baseline: allDecoding('raw') } } : {}),
    cells,
    cores: CORES,
    warmup_s: plan.warmupMs / 1000,
    measured_s_per_cell: plan.measureMs / 1000,
    clocks,
    duration_s: Math.round((Date.now() - started) / 1000),
  };
}

function label(cell: Pick<Cell, 'store' | 'monitors' | 'decoding' | 'rate'>): string {
  return `${cell.store} ${cell.monitors} monitors (${cell.decoding} decoding) ${cell.rate}/s`;
}

/**
 * Monitor processes and their [connections, decoding]: one process for a few monitors, else one
 * per core (at least two), the decoding ones shared out too. 50/4 -> [[25, 2], [25, 2]].
 */
function split(monitors: number, decoding: number): Array<[number, number]> {
  const processes = monitors < 10 ? 1 : Math.max(2, CORES);
  return Array.from({ length: processes }, (_, index) => {
    const share = (total: number) => Math.floor(total / processes) + (index < total % processes ? 1 : 0);
    return [share(monitors), share(decoding)] as [number, number];
  }).filter(([count]) => count > 0);
}

async function measureCell(
  server: Child,
  observers: Child[],
  redis: RedisServer | undefined,
  spec: { store: Mode; monitors: number; decoding: number; rate: number; warmupMs: number; measureMs: number },
): Promise<Cell> {
  const cell = `${spec.store}-${spec.monitors}-${spec.decoding}-${spec.rate}-${Date.now()}`;
  const pids: Record<string, number> = { hub: server.pid };
  observers.forEach((observer, index) => (pids[`monitors${index}`] = observer.pid));
  if (redis?.process.pid) pids.redis = redis.process.pid;
  const window = new CpuWindow(() => pids);
  const cellStarted = performance.now();
  const cpuStart = setTimeout(() => window.start(), spec.warmupMs);
  const result = await server.request<RunResult>('run', { cell, rate: spec.rate, warmupMs: spec.warmupMs, measureMs: spec.measureMs } satisfies RunRequest);
  clearTimeout(cpuStart);
  const cpu = window.stop();
  const monitorsCpu = observers.reduce((sum, _observer, index) => sum + (cpu[`monitors${index}`] ?? Number.NaN), 0);

  // Drain: wait until every decoding monitor has every measured change, or nothing more arrives.
  const expected = result.measured * spec.decoding;
  let received = 0;
  let lastProgress = performance.now();
  const drainStarted = performance.now();
  for (;;) {
    const counts = await Promise.all(observers.map((observer) => observer.request<CellCounts>('count', { cell })));
    const now = counts.reduce((sum, { received: each }) => sum + each.reduce((a, b) => a + b, 0), 0);
    if (now > received) lastProgress = performance.now();
    received = now;
    if (received >= expected || performance.now() - lastProgress > 2_000 || performance.now() - drainStarted > 30_000) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }

  const histogram = new Histogram();
  let disconnects = 0;
  let problems = 0;
  let sinkEvents = 0;
  let sinkBytes = 0;
  for (const observer of observers) {
    const samples = await observer.request<CellSamples>('collect', { cell });
    histogram.merge(samples.histogram);
    disconnects += samples.disconnects;
    problems += samples.problems;
    sinkEvents += samples.sinkEvents;
    sinkBytes += samples.sinkBytes;
  }
  const cellSeconds = (performance.now() - cellStarted) / 1000;
  if (result.errors > 0) console.log(`  ${label(spec)}: ${result.errors} commits failed (${result.firstError})`);
  if (problems > 0) console.log(`  ${label(spec)}: the monitors' views saw ${problems} seq gaps or duplicates`);
  const delivery = result.delivered ? Histogram.from(result.delivered) : undefined;
  return {
    store: spec.store,
    monitors: spec.monitors,
    decoding: spec.decoding,
    rate: spec.rate,
    achieved_rate: result.achievedRate,
    p50_ms: histogram.quantile(0.5),
    p99_ms: histogram.quantile(0.99),
    max_ms: histogram.max,
    mean_ms: histogram.mean,
    samples: histogram.count,
    delivered: expected > 0 ? received / expected : Number.NaN,
    disconnects,
    sink_events_per_s: sinkEvents / cellSeconds,
    sink_mb_per_s: sinkBytes / cellSeconds / 1e6,
    seq_problems: problems,
    commit_errors: result.errors,
    ...(delivery ? { store_delivery_p50_ms: delivery.quantile(0.5), store_delivery_p99_ms: delivery.quantile(0.99) } : {}),
    hub_cpu_pct: cpu.hub ?? result.cpuPct,
    monitors_cpu_pct: monitorsCpu,
    ...(cpu.redis !== undefined ? { redis_cpu_pct: cpu.redis } : {}),
    others_cpu_pct: cpu.others ?? Number.NaN,
    saturated: (cpu.machine ?? 0) >= CORES * 100 * 0.9 || observers.some((_observer, index) => (cpu[`monitors${index}`] ?? 0) >= 90),
    attempts: 1,
    hub_loop_delay_p99_ms: result.loopDelayP99Ms,
    hub_gc_max_pause_ms: result.gcMaxMs,
    hub_gc_total_ms: result.gcTotalMs,
    hub_heap_mb: result.heapUsedMB,
  };
}

/** Empties our own redis-server between hubs. */
async function flushRedis(server: RedisServer): Promise<void> {
  const client = new Redis(server.url, { maxRetriesPerRequest: 1 });
  try {
    await client.flushall();
  } finally {
    client.disconnect();
  }
}

function fmt(value: number | undefined): string {
  return value === undefined || !Number.isFinite(value) ? '-' : value.toFixed(2);
}
