/**
 * Several hubs, one clock: hubs whose machine clocks are off (run under faketime at -5 s, +1.5 s
 * and +5 s) beside a hub on true time, on one Redis. Timers are set and fired on Redis's clock,
 * so no hub fires them early or late, and presence still works.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordHub, type HubRecording } from 'statehub/testing';
import { api } from '../helpers/hub.js';
import { statehub, workerProcess, type CliProcess } from '../helpers/cli.js';
import { startRedisServer, type RedisServer } from '../helpers/redis.js';

const SKEWS = ['-5s', '+1.5s', '+5s'];

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(() => redis?.stop());

let prefixes = 0;

/** A hub on the test's Redis (its own prefix), its clock off by `skew` ('+5s'), or true. */
async function hub(prefix: string, skew?: string): Promise<{ url: string; process: CliProcess }> {
  const process = statehub(['hub', '--port', '0', '--redis', redis.url, '--redis-prefix', prefix], {}, skew ? ['faketime', '-f', skew] : []);
  const [, url] = await process.waitFor(/"url":"(http:\/\/[^"]+)"/);
  return { url: url as string, process };
}

/** A true-time hub and the three skewed ones, on one prefix. */
async function hubs(): Promise<{ truth: string; skewed: string[] }> {
  const prefix = `clocks-${++prefixes}`;
  const truth = await hub(prefix);
  const skewed = await Promise.all(SKEWS.map((skew) => hub(prefix, skew)));
  return { truth: truth.url, skewed: skewed.map((started) => started.url) };
}

async function watch(url: string): Promise<HubRecording> {
  const recording = await recordHub(url);
  await recording.ready();
  return recording;
}

/** When the record entered each state, on the records' own clock (ms). */
function times(recording: HubRecording, id: string): Array<[string, number]> {
  return recording.records(id).map((record) => [record.state, Date.parse(record.updatedAt)]);
}

describe('hubs whose clocks disagree, on one Redis', () => {
  it('the skewed hubs run on Redis\'s clock: a healthy worker never goes stale, and records are stamped in log order, near true time', async () => {
    const { truth, skewed } = await hubs();
    const recording = await watch(truth);
    // Every change's stamp, in log order, as a monitor receives them.
    const stamps: number[] = [];
    recording.monitor.view.subscribe((changes, reset) => {
      if (!reset) for (const { record } of changes) stamps.push(Date.parse(record.updatedAt));
    });
    try {
      await workerProcess(truth, ['--connectors', 'simulation:1', '--id', 'steady', '--machine', 'm1']);
      await workerProcess(skewed[2] as string, ['--connectors', 'simulation:1', '--id', 'on-fast-hub', '--machine', 'm2']);
      // Jobs through every hub, so that every hub commits.
      for (const url of [truth, ...skewed, truth, ...skewed]) {
        expect((await api(url, 'POST', '/api/jobs', { type: 'simulation', payload: { durationMs: 50, steps: 2 } })).status).toBe(201);
      }
      await sleep(12_000);
      for (const id of ['steady', 'on-fast-hub']) {
        expect(recording.states(id)).toContain('busy');
        expect(recording.states(id)).not.toContain('stale');
      }
      expect(stamps.length).toBeGreaterThan(40);
      expect(stamps).toEqual([...stamps].sort((a, b) => a - b));
      // Stamped on Redis's clock (this test's own is true): none from the future, none 5 s late.
      const recent = stamps.slice(-10);
      for (const stamp of recent) expect(Math.abs(stamp - Date.now())).toBeLessThan(13_000);
      expect(Math.max(...stamps)).toBeLessThanOrEqual(Date.now() + 1_000);
    } finally {
      recording.close();
    }
  }, 60_000);

  it('a job\'s backoff and timeout fire once, at the intended time within a second, whichever hub fires them', async () => {
    const { truth, skewed } = await hubs();
    const recording = await watch(truth);
    try {
      await workerProcess(skewed[0] as string, ['--connectors', 'simulation:1', '--id', 'w1', '--machine', 'm1']);
      const backoff = (await api(skewed[1] as string, 'POST', '/api/jobs', { type: 'simulation', backoffMs: 3_000, payload: { durationMs: 10, steps: 1, failTimes: 1 } })).body;
      await recording.waitFor(backoff.id, 'completed', { timeoutMs: 15_000 });
      const backoffTimes = times(recording, backoff.id);
      const retrying = backoffTimes.find(([state]) => state === 'retrying')?.[1] as number;
      const pendingAgain = backoffTimes.filter(([state]) => state === 'pending')[1]?.[1] as number;
      expect(recording.states(backoff.id)).toEqual(['pending', 'assigned', 'running', 'retrying', 'pending', 'assigned', 'running', 'completed']);
      expect(pendingAgain - retrying).toBeGreaterThanOrEqual(3_000 - 1_000);
      expect(pendingAgain - retrying).toBeLessThanOrEqual(3_000 + 1_000);

      const timeout = (await api(skewed[2] as string, 'POST', '/api/jobs', { type: 'simulation', timeoutMs: 2_000, maxAttempts: 1, payload: { durationMs: 60_000, steps: 60 } })).body;
      await recording.waitFor(timeout.id, 'failed', { timeoutMs: 15_000 });
      const timeoutTimes = times(recording, timeout.id);
      const running = timeoutTimes.find(([state]) => state === 'running')?.[1] as number;
      const failed = timeoutTimes.find(([state]) => state === 'failed')?.[1] as number;
      expect(failed - running).toBeGreaterThanOrEqual(2_000 - 1_000);
      expect(failed - running).toBeLessThanOrEqual(2_000 + 1_000);
      expect(recording.records(timeout.id).at(-1)?.snapshot.context).toMatchObject({ error: { message: 'timed out after 2000 ms' } });
    } finally {
      recording.close();
    }
  }, 60_000);

  it('presence still turns a frozen worker stale within its window (3 s after its last heartbeat)', async () => {
    const { truth, skewed } = await hubs();
    const recording = await watch(truth);
    try {
      const frozen = await workerProcess(skewed[1] as string, ['--connectors', 'simulation:1', '--id', 'frozen', '--machine', 'm1']);
      await recording.waitFor('frozen', 'ready');
      await sleep(1_500);
      const stoppedAt = Date.now();
      frozen.process.kill('SIGSTOP');
      const stale = await recording.waitFor('frozen', 'stale', { timeoutMs: 10_000 });
      const after = Date.parse(stale.updatedAt) - stoppedAt;
      // The last heartbeat came within 1 s before the freeze: stale 2 to 3 s after it, give or take a second.
      expect(after).toBeGreaterThanOrEqual(2_000 - 1_000);
      expect(after).toBeLessThanOrEqual(3_000 + 1_000);
      frozen.process.kill('SIGCONT');
    } finally {
      recording.close();
    }
  }, 60_000);
});
