/**
 * A statehub hub in its own process for the benches: the built hub (dist/, what
 * `statehub hub --redis URL` runs, with the CLI's default options), controlled over IPC so a
 * bench can read its event-loop utilization and CPU time and take a CPU profile of exactly the
 * window it measures.
 *
 *   env BENCH_REDIS_URL (optional: memory store without it)
 *   -> { type: 'listening', url }
 *   <- { id, type: 'stats' }                -> { id, elu, cpu, rss }
 *   <- { id, type: 'profile:start' }        -> { id }
 *   <- { id, type: 'profile:stop', path }   -> { id, path }  (a .cpuprofile, as Chrome DevTools reads it)
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { performance } from 'node:perf_hooks';
import type * as HubModule from '../../src/hub/hub.js';

const { startHub } = (await import(new URL('../../dist/src/hub/hub.js', import.meta.url).href)) as typeof HubModule;

const redis = process.env.BENCH_REDIS_URL;
// What `statehub hub` passes (src/cli.ts hubOptions) with its default flags.
const hub = await startHub({
  ...(redis ? { redis, redisPrefix: 'statehub' } : {}),
  port: 0,
  host: '127.0.0.1',
  bodyLimit: 1024 * 1024,
  timings: { heartbeatMs: 1_000, staleAfterMs: 3_000, offlineAfterMs: 10_000 },
  retention: { keepFinishedMs: 5 * 60_000, maxFinished: 10_000 },
});

let session: Session | undefined;

process.on('message', (message: { id: number; type: string; path?: string }) => {
  void answer(message).then(
    (reply) => process.send?.({ id: message.id, ...reply }),
    (error: Error) => process.send?.({ id: message.id, error: error.message }),
  );
});

async function answer(message: { type: string; path?: string }): Promise<Record<string, unknown>> {
  switch (message.type) {
    case 'stats':
      return { elu: performance.eventLoopUtilization(), cpu: process.cpuUsage(), rss: process.memoryUsage().rss };
    case 'profile:start':
      session = new Session();
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.start');
      return {};
    case 'profile:stop': {
      if (!session || !message.path) throw new Error('no profile running, or no path');
      const { profile } = await session.post('Profiler.stop');
      session.disconnect();
      session = undefined;
      writeFileSync(message.path, JSON.stringify(profile));
      return { path: message.path };
    }
    default:
      throw new Error(`unknown request ${message.type}`);
  }
}

let closing = false;
const close = () => {
  if (closing) return;
  closing = true;
  hub.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on('SIGTERM', close);
process.on('SIGINT', close);
process.on('disconnect', close);

process.send?.({ type: 'listening', url: hub.url });
