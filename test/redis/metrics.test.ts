/**
 * GET /metrics on several hubs of one Redis: the gauges counted from the records agree on every
 * hub; every hub counts every change of the one log (so hubs aggregate with max, not sum), and a
 * hub that starts later counts only what came after it, while its gauges agree at once.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it, onTestFinished } from 'vitest';
import { startHub, type Hub } from 'statehub';
import { recordHub } from 'statehub/testing';
import { FAST_TIMINGS, submit, testWorker } from '../helpers/hub.js';
import { scrape, type Scrape } from '../helpers/prometheus.js';
import { startRedisServer, type RedisServer } from '../helpers/redis.js';

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(() => redis?.stop());

const GAUGES = ['statehub_actors', 'statehub_jobs', 'statehub_workers', 'statehub_connectors', 'statehub_log_offset', 'statehub_log_length'];
const COUNTERS = [
  'statehub_changes_total',
  'statehub_transitions_total',
  'statehub_jobs_finished_total',
  'statehub_job_retries_total',
  'statehub_job_failures_total',
  'statehub_job_wait_seconds_count',
  'statehub_job_run_seconds_count',
];

const of = (metrics: Scrape, names: string[]) => Object.fromEntries(names.map((name) => [name, metrics.series(name)]));

/** Scrapes of every hub once they report the same `names`, within 10 s. */
async function agreeing(hubs: Hub[], names: string[]): Promise<Scrape[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const scrapes = await Promise.all(hubs.map((hub) => scrape(hub)));
    const [first, ...others] = scrapes.map((metrics) => of(metrics, names));
    if (others.every((other) => JSON.stringify(other) === JSON.stringify(first)) || Date.now() > deadline) return scrapes;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

it('every hub reports the same gauges and counts every change; a later hub agrees on the gauges only', async () => {
  const prefix = `metrics-${randomBytes(4).toString('hex')}`;
  const start = async () => {
    const hub = await startHub({ port: 0, logger: false, timings: FAST_TIMINGS, redis: redis.url, redisPrefix: prefix });
    onTestFinished(() => hub.close());
    return hub;
  };
  const a = await start();
  const b = await start();
  const recording = await recordHub(a.url);
  onTestFinished(() => recording.close());
  await testWorker(a, { simulations: 2 });
  const jobs = await Promise.all(
    [0, 1, 2, 3].map((index) => submit(index % 2 ? a : b, { type: 'simulation', backoffMs: 10, payload: { durationMs: 10, steps: 1, failTimes: index === 0 ? 1 : 0 } })),
  );
  for (const job of jobs) await recording.waitFor(job.id, 'completed');

  const [onA, onB] = await agreeing([a, b], [...GAUGES, ...COUNTERS]);
  expect(of(onB!, GAUGES)).toEqual(of(onA!, GAUGES));
  expect(of(onB!, COUNTERS)).toEqual(of(onA!, COUNTERS));
  expect(onA!.value('statehub_jobs', { state: 'completed', type: 'simulation' })).toBe(4);
  expect(onA!.value('statehub_job_retries_total', { type: 'simulation' })).toBe(1);
  // Each hub counted all four jobs, whichever hub committed their changes: summing hubs would say 8.
  expect(onA!.value('statehub_jobs_finished_total', { state: 'completed', type: 'simulation' })).toBe(4);
  expect(onB!.value('statehub_jobs_finished_total', { state: 'completed', type: 'simulation' })).toBe(4);
  // What is the hub's own: its connections (the worker is on A).
  expect([onA!.value('statehub_worker_connections'), onB!.value('statehub_worker_connections')]).toEqual([1, 0]);

  // A hub that starts now reads the live set from Redis: the same gauges, but none of the changes before it.
  const c = await start();
  const [later, onC] = await agreeing([a, c], GAUGES);
  expect(of(onC!, GAUGES)).toEqual(of(later!, GAUGES));
  expect(onC!.value('statehub_jobs_finished_total', { state: 'completed', type: 'simulation' })).toBeUndefined();
  expect(onC!.sum('statehub_changes_total')).toBeLessThan(onA!.sum('statehub_changes_total'));
});
