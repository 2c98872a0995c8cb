/**
 * Several hubs on one Redis: workers and monitors may connect to any hub, a job submitted on
 * one runs on a worker of another, every monitor on every hub sees the same changes in the same
 * order, and exactly one hub acts on each due timer.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { startHub, type Hub } from 'statehub';
import { recordHub, type HubRecording } from 'statehub/testing';
import { api, byId, FAST_TIMINGS, submit, testWorker } from '../helpers/hub.js';
import { startRedisServer, type RedisServer } from '../helpers/redis.js';
import { RedisStore } from '../../src/store/redis.js';

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(() => redis?.stop());

async function hubs(count: number): Promise<Hub[]> {
  const prefix = `hubs-${randomBytes(4).toString('hex')}`;
  const started: Hub[] = [];
  for (let index = 0; index < count; index++) {
    const hub = await startHub({ port: 0, logger: false, timings: FAST_TIMINGS, redis: redis.url, redisPrefix: prefix });
    onTestFinished(() => hub.close());
    started.push(hub);
  }
  return started;
}

async function recording(hub: Hub): Promise<HubRecording> {
  const recorded = await recordHub(hub.url);
  onTestFinished(() => recorded.close());
  return recorded;
}

describe('several hubs on one Redis', () => {
  it('runs a job submitted on hub A on a worker of hub B, and monitors on both see the same changes in the same order', async () => {
    const [a, b] = await hubs(2);
    const onA = await recording(a!);
    const onB = await recording(b!);
    await testWorker(b!, { id: 'worker-on-b', simulations: 2 });
    const jobs = await Promise.all(
      Array.from({ length: 6 }, (_, index) => submit(index % 2 ? a! : b!, { type: 'simulation', backoffMs: 10, payload: { durationMs: 20, steps: 2, failTimes: index % 3 === 0 ? 1 : 0 } })),
    );
    for (const job of jobs) await onA.waitFor(job.id, 'completed');
    for (const job of jobs) expect(onA.states(job.id).at(-1)).toBe('completed');
    onA.expect(jobs[0].id, 'pending > assigned > running > retrying > pending > assigned > running > completed');
    expect((await api(a!, 'GET', `/api/jobs/${jobs[1].id}`)).body.snapshot.context.workerId).toBe('worker-on-b');

    const fromA = await api(a!, 'GET', '/api/snapshot');
    const fromB = await api(b!, 'GET', '/api/snapshot');
    await onA.caughtUp(fromA.body);
    await onB.caughtUp(fromA.body);
    expect(byId(fromB.body.records)).toEqual(byId(fromA.body.records));
    for (const watcher of [onA, onB]) {
      expect(byId(watcher.view.values())).toEqual(byId(fromA.body.records));
      expect(watcher.monitor.view.problems).toEqual([]);
    }
    // One order: every actor went through the same records on both hubs.
    for (const id of onA.ids()) expect(onB.records(id).map((record) => record.seq)).toEqual(onA.records(id).map((record) => record.seq));
  });

  it('lets exactly one hub act on each due timer', async () => {
    const prefix = `timers-${randomBytes(4).toString('hex')}`;
    // Three hubs whose stores note every timer their commits consumed.
    const consumed: string[][] = [];
    const started: Hub[] = [];
    for (let index = 0; index < 3; index++) {
      const store = await RedisStore.connect({ url: redis.url, prefix });
      const mine: string[] = [];
      consumed.push(mine);
      const commit = store.commit.bind(store);
      store.commit = async (args) => {
        const entries = await commit(args);
        if (args.consumeTimer) mine.push(`${args.consumeTimer.key}@${args.consumeTimer.dueAt}`);
        return entries;
      };
      const hub = await startHub({ port: 0, logger: false, timings: FAST_TIMINGS, store });
      onTestFinished(async () => {
        await hub.close();
        await store.close();
      });
      started.push(hub);
    }
    const [a, b, c] = started;
    const watcher = await recording(a!);
    await testWorker(c!, { id: 'worker-on-c' });
    const job = await submit(b!, { type: 'simulation', maxAttempts: 4, backoffMs: 30, payload: { durationMs: 5, steps: 1, failTimes: 3 } });
    await watcher.waitFor(job.id, 'completed');
    watcher.expect(
      job.id,
      'pending > assigned > running > retrying > pending > assigned > running > retrying > pending > assigned > running > retrying > pending > assigned > running > completed',
    );
    const backoffs = consumed.flat().filter((key) => key.startsWith(`${job.id}|`));
    expect(backoffs).toHaveLength(3);
    // Each of the three backoff timers (and every heartbeat timer that came due) was acted on once, by one hub.
    const all = consumed.flat();
    expect(new Set(all).size).toBe(all.length);
  });

  it('a worker that stops heartbeating is made stale by whichever hub fires its timer, and its job moves to a worker on another hub', async () => {
    const [a, b] = await hubs(2);
    const watcher = await recording(b!);
    const stuck = await testWorker(a!, { id: 'on-a', connectors: [{ type: 'slow', run: (_job, { signal }) => new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(new Error('aborted')))) }] });
    const job = await submit(b!, { type: 'slow' });
    await watcher.waitFor(job.id, 'running');
    // Hub A goes away without a word: its sockets vanish, nobody tells the store the worker left.
    await a!.close();
    await stuck.stop();
    await watcher.waitFor('on-a', 'stale');
    await testWorker(b!, { id: 'on-b', connectors: [{ type: 'slow', run: async () => 'done elsewhere' }] });
    const done = await watcher.waitFor(job.id, 'completed');
    expect(done.snapshot.context).toMatchObject({ workerId: 'on-b', result: 'done elsewhere', attempts: 2 });
  });
});
