/**
 * Probes with several hubs on one Redis: one probe actor per target (not one per hub), each tick
 * checked by exactly one hub, checks that go on when a hub closes, and a probe that no hub
 * checks any more turning `unknown` instead of reading healthy forever.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { startHub, type ActorRecord, type Hub, type ProbesConfig } from 'statehub';
import type { ProbeContext } from 'statehub/machines';
import { RedisStore } from '../../src/store/redis.js';
import { api, FAST_TIMINGS, testRecording } from '../helpers/hub.js';
import { freePort, startRedisServer, type RedisServer } from '../helpers/redis.js';

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(() => redis?.stop());

const context = (record: ActorRecord) => record.snapshot.context as unknown as ProbeContext;

interface CountingHub {
  hub: Hub;
  /** `key@dueAt` of every probe CHECK timer this hub's commits consumed: the ticks it won. */
  checks: string[];
}

/** A hub on the shared Redis whose store notes each probe check it took. */
async function countingHub(prefix: string, probes: ProbesConfig): Promise<CountingHub> {
  const store = await RedisStore.connect({ url: redis.url, prefix });
  const checks: string[] = [];
  const commit = store.commit.bind(store);
  store.commit = async (args) => {
    const entries = await commit(args);
    if (args.consumeTimer?.key.endsWith('|check')) checks.push(`${args.consumeTimer.key}@${args.consumeTimer.dueAt}`);
    return entries;
  };
  const hub = await startHub({ port: 0, logger: false, timings: FAST_TIMINGS, store, probes });
  onTestFinished(async () => {
    await hub.close();
    await store.close();
  });
  return { hub, checks };
}

describe('probes with several hubs on one Redis', () => {
  it('runs one probe actor per target, checks each tick on one hub only, and goes on checking when that hub closes', async () => {
    const prefix = `probes-${randomBytes(4).toString('hex')}`;
    const closed = await freePort();
    const probes: ProbesConfig = { defaults: { intervalMs: 200, reportEveryMs: 1_000 }, probes: [redis.url, `tcp://127.0.0.1:${closed}`] };
    const a = await countingHub(prefix, probes);
    const b = await countingHub(prefix, probes);
    const watcher = await testRecording(b.hub);
    const ids = ['probe:store', `probe:${redis.url}`, `probe:tcp://127.0.0.1:${closed}`];
    const states = ['healthy', 'healthy', 'unhealthy'];
    for (const [index, id] of ids.entries()) await watcher.waitFor(id, states[index]!);
    const { records } = await b.hub.store.snapshot(['probe']);
    expect(records.map((record) => record.id).sort()).toEqual([...ids].sort());

    // Whichever hubs won them, no tick was checked twice.
    await watcher.until(() => a.checks.length + b.checks.length >= 3 * ids.length, 'three checks of each probe');
    const all = [...a.checks, ...b.checks];
    expect(new Set(all).size).toBe(all.length);

    // The hub that took the last tick goes away; the other one goes on.
    const [gone, stays] = a.checks.length >= b.checks.length ? [a, b] : [b, a];
    const onStays = gone === b ? await testRecording(stays.hub) : watcher;
    await gone.hub.close();
    const closedAt = stays.hub.store.now();
    const taken = stays.checks.length;
    for (const [index, id] of ids.entries()) {
      const renewed = await onStays.waitFor(id, (record) => Date.parse(context(record).checkedAt ?? '') > closedAt, { timeoutMs: 15_000 });
      expect(renewed.state).toBe(states[index]);
    }
    expect(stays.checks.length).toBeGreaterThan(taken);
    const after = [...a.checks, ...b.checks];
    expect(new Set(after).size).toBe(after.length);
  });

  it('leaves the checks of a probe it was not given to the hubs that were; with none left, the probe turns unknown', async () => {
    const prefix = `orphan-${randomBytes(4).toString('hex')}`;
    const port = await freePort();
    const id = `probe:tcp://127.0.0.1:${port}`;
    const defaults = { intervalMs: 200, reportEveryMs: 1_000 };
    const given = await countingHub(prefix, { defaults, probes: [`tcp://127.0.0.1:${port}`] });
    const other = await countingHub(prefix, { defaults });
    const watcher = await testRecording(other.hub);
    await watcher.waitFor(id, 'unhealthy');
    await given.hub.close();
    // staleAfter: reportEveryMs + 2 x (intervalMs + timeoutMs) after the last record, fired by the hub that remains.
    const unknown = await watcher.waitFor(id, 'unknown', { timeoutMs: 15_000 });
    expect(context(unknown)).toMatchObject({ freshUntil: null, message: expect.stringMatching(/^checks stopped: none recorded since /) });
    expect(other.checks.filter((check) => check.startsWith(`${id}|`))).toEqual([]);
    // The store's probe, which both hubs were given, is still checked, and cannot be removed.
    const store = await watcher.waitFor('probe:store', (record) => Date.parse(context(record).checkedAt ?? '') > Date.parse(unknown.updatedAt), { timeoutMs: 15_000 });
    expect(store.state).toBe('healthy');
    const refused = await api(other.hub, 'DELETE', `/api/actors/${encodeURIComponent('probe:store')}`);
    expect([refused.status, refused.body.error.message]).toEqual([409, "probe probe:store is healthy: a hub checks it (remove it from every hub's probes first)"]);
    // The probe nobody checks can be.
    expect((await api(other.hub, 'DELETE', `/api/actors/${encodeURIComponent(id)}`)).status).toBe(200);
    await watcher.until(() => !watcher.view.has(id), `${id} to leave the live set`);
  });
});
