/**
 * A record that somehow got into Redis (written by an older version, or by hand) fails only its
 * own actor's reads, with a clear error: never the snapshot, the stream, a restart or another actor.
 */
import { afterAll, beforeAll, describe, expect, it, onTestFinished, vi } from 'vitest';
import { Redis } from 'ioredis';
import { startHub, type Hub } from 'statehub';
import { api, snapshot, submit, testRecording, testWorker, FAST_TIMINGS } from '../helpers/hub.js';
import { connectMonitor } from '../helpers/streams.js';
import { startRedisServer, type RedisServer } from '../helpers/redis.js';

let server: RedisServer;
beforeAll(async () => {
  server = await startRedisServer();
});
afterAll(() => server?.stop());

let prefixes = 0;

/** The warnings a store gives for what it leaves out (kept off the test output, and checked). */
function warnings(): () => string[] {
  const spy = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
  onTestFinished(() => spy.mockRestore());
  return () => spy.mock.calls.map((call) => String(call[0]));
}

async function redisHub(prefix: string, port = 0): Promise<Hub> {
  const hub = await startHub({ port, logger: false, timings: FAST_TIMINGS, redis: server.url, redisPrefix: prefix });
  onTestFinished(() => hub.close());
  return hub;
}

function client(): Redis {
  const redis = new Redis(server.port, '127.0.0.1');
  onTestFinished(() => {
    redis.disconnect();
  });
  return redis;
}

/** Plants `text` as the live record of job `id`, as a hand or an older version might. */
async function plant(redis: Redis, prefix: string, id: string, text: string): Promise<void> {
  await redis.hset(`${prefix}:meta`, id, '1\njob\n\n');
  await redis.hset(`${prefix}:rec:job`, id, text);
}

const poisons = {
  'not JSON': '{"id":"job_poison", this is not json',
  'nested 5,000 deep': `{"id":"job_poison","kind":"job","seq":1,"state":"pending","updatedAt":"2026-01-01T00:00:00.000Z","snapshot":{"status":"active","value":"pending","context":{"payload":${'['.repeat(5_000)}${']'.repeat(5_000)}}}}`,
  'not a record': '{"id":"job_poison","kind":"job","seq":"one"}',
};

describe('an unreadable record in Redis', () => {
  for (const [name, text] of Object.entries(poisons)) {
    it(`(${name}) fails its own reads with a clear 500; the snapshot, the stream, a restarted hub and the other actors work`, async () => {
      const warned = warnings();
      const prefix = `poison-${++prefixes}`;
      const hub = await redisHub(prefix);
      await testWorker(hub, { id: 'w1' });
      const before = await submit(hub, { type: 'simulation', payload: { durationMs: 1, steps: 1 } });
      await plant(client(), prefix, 'job_poison', text);

      const own = await api(hub, 'GET', '/api/actors/job_poison');
      expect(own.status).toBe(500);
      expect(own.body.error.message).toMatch(/^the stored record of job_poison cannot be read: /);
      expect((await api(hub, 'GET', '/api/jobs/job_poison/history')).status).toBe(500);
      expect((await api(hub, 'POST', '/api/jobs/job_poison/cancel')).body.error.message).toMatch(/job_poison cannot be read/);

      // A hub that starts on this data starts, and leaves the record out of what it serves.
      const fresh = await redisHub(prefix);
      const current = await snapshot(fresh);
      expect(current.records.map((record) => record.id)).not.toContain('job_poison');
      expect(current.records.map((record) => record.id)).toContain(before.id);
      const monitor = await connectMonitor(fresh);
      expect(monitor.all<{ records: unknown[] }>('snapshot')[0]?.records).toHaveLength(current.records.length);
      const recording = await testRecording(fresh);
      const after = await submit(fresh, { type: 'simulation', payload: { durationMs: 1, steps: 1 } });
      await recording.waitFor(after.id, 'completed');
      expect(warned().some((text) => text.startsWith('the stored record of job_poison cannot be read: '))).toBe(true);
    });
  }

  it('in the log itself is skipped by every hub tailing it; the changes after it still arrive', async () => {
    const warned = warnings();
    const prefix = `poison-${++prefixes}`;
    const hub = await redisHub(prefix);
    const other = await redisHub(prefix);
    const recording = await testRecording(other);
    await testWorker(hub, { id: 'w1' });
    await client().xadd(`${prefix}:log`, '*', 'r', poisons['nested 5,000 deep']);
    const job = await submit(hub, { type: 'simulation', payload: { durationMs: 1, steps: 1 } });
    await recording.waitFor(job.id, 'completed');
    expect(recording.view.has('job_poison')).toBe(false);
    expect(recording.monitor.view.problems).toEqual([]);
    expect(warned().some((text) => /cannot be read: .*nests deeper than the limit of 256 levels/.test(text))).toBe(true);
  });
});
