/**
 * The hub under test for bench/scale.ts, in a process of its own so that its heap readings hold
 * nothing but the hub: `node --expose-gc --import tsx bench/lib/scale-hub.ts`. Driven over the
 * IPC channel (see scale-process.ts); exits when its parent goes away.
 *
 * argv[2]: JSON { redis?: string, prefix?: string }
 */
import { startHub, type Hub } from '../../src/hub/hub.js';
import type { LogEntry } from '../../src/protocol/record.js';
import { commitChanges, newSteppers, seedPopulation, type Steppers } from './scale-population.js';

export type HubCommand =
  | { cmd: 'heap' }
  | { cmd: 'seed'; workers: number; jobs: number; chunk: number }
  | { cmd: 'offset' }
  | { cmd: 'changes'; count: number; chunk: number }
  /** Starts a new window for the event-loop stall reading. */
  | { cmd: 'stallReset' }
  /** The longest the hub's event loop was blocked since stallReset, in ms. */
  | { cmd: 'stallMax' }
  | { cmd: 'close' };

export interface HeapReading {
  heapUsed: number;
  rss: number;
  external: number;
}

export interface SeedResult {
  actors: number;
  seedMs: number;
  /** Right after seeding, while the steppers that built the records (and their restored-snapshot caches) are alive. */
  withStepCache: HeapReading;
  /** Once they are gone: what the hub itself holds. */
  after: HeapReading;
}

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('scale-hub needs --expose-gc');
if (!process.send) throw new Error('scale-hub runs as a child process with an IPC channel');

const config = JSON.parse(process.argv[2] ?? '{}') as { redis?: string; prefix?: string };
const hub: Hub = await startHub({
  port: 0,
  logger: false,
  ...(config.redis ? { redis: config.redis, redisPrefix: config.prefix ?? 'scale' } : {}),
  // Nothing leaves the live set while we measure (bench/ui.ts does the same).
  retention: { keepFinishedMs: 3_600_000, maxFinished: 10_000_000 },
  // The snapshot holds exactly the actors the bench seeded.
  probeStore: false,
});

/** The longest gap between ticks of a 5 ms interval since the last reset: how long the event loop was blocked. */
const TICK_MS = 5;
let lastTick = performance.now();
let longestBlock = 0;
const ticker = setInterval(() => {
  const now = performance.now();
  longestBlock = Math.max(longestBlock, now - lastTick - TICK_MS);
  lastTick = now;
}, TICK_MS);

let seeded: { workers: number; jobs: number } | undefined;
let nextJob = 0;
let steppers: Steppers | undefined;

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function heap(): Promise<HeapReading> {
  // Let pending deliveries and timers run, then collect until the figure settles.
  await pause(100);
  let previous = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 6; round++) {
    gc!();
    await new Promise((resolve) => setImmediate(resolve));
    const used = process.memoryUsage().heapUsed;
    if (Math.abs(previous - used) < 64 * 1024) break;
    previous = used;
  }
  const { heapUsed, rss, external } = process.memoryUsage();
  return { heapUsed, rss, external };
}

/** Resolves once this hub's subscribers were handed `entry` (a Redis tail lags its commits). */
async function delivered(entry: LogEntry | undefined): Promise<void> {
  if (!entry) return;
  const deadline = Date.now() + 120_000;
  while (hub.store.compareOffsets(hub.store.delivered(), entry.offset) < 0) {
    if (Date.now() > deadline) throw new Error(`the hub's store did not deliver ${entry.offset} within 120 s`);
    await pause(5);
  }
  // And the feed flushed them (setImmediate).
  await new Promise((resolve) => setImmediate(resolve));
}

async function handle(command: HubCommand): Promise<unknown> {
  switch (command.cmd) {
    case 'heap':
      return heap();
    case 'seed': {
      const started = performance.now();
      steppers = newSteppers();
      const { actors, last } = await seedPopulation(hub.store, steppers, command.workers, command.jobs, command.chunk);
      await delivered(last);
      const seedMs = performance.now() - started;
      seeded = { workers: command.workers, jobs: command.jobs };
      // A hub that stepped these actors itself keeps each one's restored XState snapshot,
      // cached by its persisted object (src/hub/step.ts). Connector records come from workers.
      const hubStepped: Partial<Steppers> = { job: steppers.job, worker: steppers.worker, machine: steppers.machine };
      steppers = undefined;
      const withStepCache = await heap();
      hubStepped.job = hubStepped.worker = hubStepped.machine = undefined;
      const after = await heap();
      return { actors, seedMs, withStepCache, after } satisfies SeedResult;
    }
    case 'offset':
      return hub.store.delivered();
    case 'stallReset':
      lastTick = performance.now();
      longestBlock = 0;
      return null;
    case 'stallMax': {
      // A block still under way when asked (none: this runs on the loop) counts too.
      return Math.max(longestBlock, performance.now() - lastTick - TICK_MS, 0);
    }
    case 'changes': {
      if (!seeded) throw new Error('seed first');
      const result = await commitChanges(hub.store, (steppers ??= newSteppers()), { count: command.count, nextJob, jobs: seeded.jobs, workers: seeded.workers, chunk: command.chunk });
      nextJob = result.nextJob;
      await delivered(result.last);
      return hub.store.delivered();
    }
    case 'close':
      clearInterval(ticker);
      await hub.close();
      setImmediate(() => process.exit(0));
      return null;
  }
}

process.on('message', (message: { id: number } & HubCommand) => {
  handle(message).then(
    (result) => process.send!({ id: message.id, ok: true, result }),
    (error: unknown) => process.send!({ id: message.id, ok: false, error: (error as Error).stack ?? String(error) }),
  );
});
// The bench went away (crashed, killed): never outlive it.
process.on('disconnect', () => {
  void hub.close().finally(() => process.exit(0));
  setTimeout(() => process.exit(1), 5_000).unref();
});
process.send({ ready: true, url: hub.url, pid: process.pid });
