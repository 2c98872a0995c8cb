/**
 * The last minute's transitions on several hubs sharing one Redis: a hub started after the jobs
 * ran reads the minute back from the log and answers the counts a hub that ran through it answers
 * (GET /api/machines/:kind/recent), equal to the actors' histories; then both go on counting alike.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { startHub, type Hub } from 'statehub';
import type { RecentAnswer } from '../../src/protocol/recent.js';
import { api, FAST_TIMINGS, submit, testRecording, testWorker } from '../helpers/hub.js';
import { expectedTally, tallyOf } from '../helpers/recent.js';
import { startRedisServer, type RedisServer } from '../helpers/redis.js';

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(() => redis?.stop());

async function hubOn(prefix: string): Promise<Hub> {
  const hub = await startHub({ port: 0, logger: false, timings: FAST_TIMINGS, redis: redis.url, redisPrefix: prefix, retention: { keepFinishedMs: 120_000 } });
  onTestFinished(() => hub.close());
  return hub;
}

async function recent(hub: Hub, kind: string, offset?: string): Promise<RecentAnswer> {
  const answer = await api<RecentAnswer>(hub, 'GET', `/api/machines/${kind}/recent${offset === undefined ? '' : `?offset=${encodeURIComponent(offset)}`}`);
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  return answer.body;
}

describe('recent transitions on several hubs', () => {
  it('a hub started after the jobs ran answers the same counts as the hub that watched them, equal to the histories', async () => {
    const prefix = `recent-${randomBytes(4).toString('hex')}`;
    const early = await hubOn(prefix);
    const recording = await testRecording(early);
    await testWorker(early, { id: 'w1', machineId: 'm1', simulations: 2 });
    const jobs = [];
    for (let index = 0; index < 6; index++) {
      jobs.push(await submit(early, { type: 'simulation', backoffMs: 20, payload: { durationMs: 50 + index * 20, steps: 3, failTimes: index % 3 === 0 ? 1 : 0 } }));
    }
    for (const job of jobs) await recording.waitFor(job.id, 'completed');

    const late = await hubOn(prefix);
    const compare = (a: string, b: string) => early.store.compareOffsets(a, b);
    for (const kind of ['job', 'connector', 'worker', 'machine'] as const) {
      const watched = await recent(early, kind);
      // As of the same offset: the late hub waits until its own tail has counted up to it.
      const readBack = await recent(late, kind, watched.offset);
      expect(readBack.offset).toBe(watched.offset);
      expect(tallyOf(readBack), kind).toEqual(tallyOf(watched));
      expect(tallyOf(watched), kind).toEqual(await expectedTally(early.url, recording.ids(kind), watched, compare));
      expect(watched.buckets.length, kind).toBeGreaterThan(0);
    }

    // Both go on counting the same changes, whichever hub makes them.
    const more = [await submit(late, { type: 'simulation', payload: { durationMs: 30, steps: 2 } }), await submit(early, { type: 'simulation', payload: { durationMs: 30, steps: 2 } })];
    for (const job of more) await recording.waitFor(job.id, 'completed');
    const now = await recent(late, 'job');
    expect(tallyOf(await recent(early, 'job', now.offset))).toEqual(tallyOf(now));
    expect(tallyOf(now)).toEqual(await expectedTally(early.url, recording.ids('job'), now, compare));
  });
});
