/**
 * Webhooks with several hubs on one Redis: each change is delivered by exactly one hub (once,
 * when nothing fails), and a hub killed with -9 in the middle of a POST costs nothing but
 * duplicates: another hub takes the round over when its lease runs out and delivers again from
 * the cursor, with no gap.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { startHub, type Hub, type LogEntry } from 'statehub';
import { api, FAST_TIMINGS } from '../helpers/hub.js';
import { statehub, type CliProcess } from '../helpers/cli.js';
import { freePort, startRedisServer, type RedisServer } from '../helpers/redis.js';
import { WebhookReceiver } from '../helpers/webhook-receiver.js';
import { changeMatcher } from '../../src/hub/webhooks/filter.js';
import { RedisStore } from '../../src/store/redis.js';

const SECRET = 'a-test-secret-of-some-length';
const JOBS = { kinds: ['job'] };

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(() => redis?.stop());

/** A store of the test's own on `prefix`: the log every hub writes, to know what was owed. */
async function logOf(prefix: string): Promise<RedisStore> {
  const store = await RedisStore.connect({ url: redis.url, prefix });
  onTestFinished(() => store.close());
  return store;
}

/** The offsets of the job changes after `since`, in log order. */
async function owedJobs(store: RedisStore, since: string): Promise<string[]> {
  const matches = changeMatcher(JOBS);
  return ((await store.changesSince(since)) as LogEntry[]).filter((entry) => matches(entry.record)).map((entry) => entry.offset);
}

async function register(hubUrl: string, url: string): Promise<{ id: string; cursor: string }> {
  const answer = await api(hubUrl, 'POST', '/api/webhooks', { url, secret: SECRET, filter: JOBS, backoffMs: 20 });
  expect(answer.status, JSON.stringify(answer.body)).toBe(201);
  return { id: answer.body.id, cursor: answer.body.record.snapshot.context.cursor };
}

async function pendingJobs(hubUrl: string, count: number): Promise<void> {
  const answer = await api(hubUrl, 'POST', '/api/jobs/batch', { jobs: Array.from({ length: count }, () => ({ type: 'unserved' })) });
  expect(answer.status).toBe(201);
}

describe('webhooks with several hubs on one Redis', () => {
  it('delivers each change once, by exactly one hub, whichever hub it was committed on', async () => {
    const prefix = `hooks-${randomBytes(4).toString('hex')}`;
    const hubs: Hub[] = [];
    for (const id of ['hub-a', 'hub-b', 'hub-c']) {
      const hub = await startHub({ port: 0, logger: false, timings: FAST_TIMINGS, redis: redis.url, redisPrefix: prefix, id, webhooks: { leaseMs: 4_000, pollMs: 200, timeoutMs: 1_000 } });
      onTestFinished(() => hub.close());
      hubs.push(hub);
    }
    const receiver = await WebhookReceiver.start(SECRET);
    const { id, cursor } = await register(hubs[0]!.url, receiver.url);
    // Changes committed on every hub, in bursts, while rounds are under way.
    for (let burst = 0; burst < 12; burst++) await pendingJobs(hubs[burst % hubs.length]!.url, 1 + (burst % 4));
    const expected = await owedJobs(await logOf(prefix), cursor);
    await receiver.until(() => receiver.accepted.length >= expected.length, `${expected.length} changes`);
    expect(receiver.offsets()).toEqual(expected);
    expect(receiver.forged).toBe(0);
    // Every round was held by one hub: each START named it.
    const history = (await api(hubs[1]!.url, 'GET', `/api/actors/${id}/history`)).body.entries as Array<{ event: { type: string; hub?: string } }>;
    const holders = history.filter((entry) => entry.event.type === 'START').map((entry) => entry.event.hub);
    expect(holders.length).toBeGreaterThan(0);
    expect(holders.every((holder) => holder === 'hub-a' || holder === 'hub-b' || holder === 'hub-c')).toBe(true);
  });

  // Two hub processes and a 6 s lease: it may take more than the default 30 s on a loaded machine.
  it('loses nothing when the delivering hub is killed with -9 mid-POST: another hub delivers again from the cursor (at-least-once, no gap)', async () => {
    const prefix = `killed-${randomBytes(4).toString('hex')}`;
    const started: Array<{ url: string; process: CliProcess }> = [];
    for (let index = 0; index < 2; index++) {
      const port = await freePort();
      const args = ['hub', '--port', String(port), '--redis', redis.url, '--redis-prefix', prefix, '--webhook-lease-ms', '6000', '--webhook-timeout-ms', '3000', '--webhook-poll-ms', '200'];
      const process = statehub(args);
      await process.waitFor(/statehub hub listening/);
      started.push({ url: `http://127.0.0.1:${port}`, process });
    }
    const receiver = await WebhookReceiver.start(SECRET);
    let stall = true;
    // The first POST is held, unanswered, until its hub is gone.
    receiver.answer = () => (stall ? new Promise<number>(() => {}) : 204);
    const { id, cursor } = await register(started[0]!.url, receiver.url);
    await pendingJobs(started[1]!.url, 3);
    await receiver.until(() => receiver.waiting.size === 1, 'a POST in flight');
    const { hub } = (await api(started[0]!.url, 'GET', `/api/webhooks/${id}`)).body.snapshot.context;
    const doomed = started.find((candidate) => String(hub).includes(`-${candidate.process.process.pid}-`));
    expect(doomed, `the round is held by ${hub}`).toBeDefined();
    // Still in the middle of that POST: its hub has not given up on it.
    expect(receiver.waiting.size).toBe(1);
    stall = false;
    doomed!.process.process.kill('SIGKILL');
    await doomed!.process.exited();
    const survivor = started.find((candidate) => candidate !== doomed)!;
    await pendingJobs(survivor.url, 3);

    const expected = await owedJobs(await logOf(prefix), cursor);
    const distinct = () => [...new Set(receiver.offsets())];
    await receiver.until(() => distinct().length >= expected.length, `${expected.length} distinct changes`, 60_000);
    // Every change, in order the first time each came; a change may have come twice.
    expect(distinct()).toEqual(expected);
    expect(receiver.forged).toBe(0);
    const { deliveries } = (await api(survivor.url, 'GET', `/api/webhooks/${id}/deliveries`)).body;
    expect(deliveries.map((entry: { event: string }) => entry.event)).toContain('LEASE_EXPIRED');
    expect(deliveries.find((entry: { event: string }) => entry.event === 'LEASE_EXPIRED').outcome.error).toContain(`hub ${hub} did not finish round 1 within its lease`);
  }, 60_000);
});
