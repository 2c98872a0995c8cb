/**
 * GET /api/machines/:kind/recent: the transitions each kind took in the last minute, counted from
 * the log, equal to the changes the test drove (as the actors' histories list them), as of the
 * offset it answers with, or as of an earlier offset a stream brought.
 */
import { describe, expect, it } from 'vitest';
import type { RecentAnswer } from '../../src/protocol/recent.js';
import { api, submit, testHub, testRecording, testWorker } from '../helpers/hub.js';
import { expectedTally, tallyOf } from '../helpers/recent.js';

describe('GET /api/machines/:kind/recent', () => {
  it('counts every change of the last minute per second, from the previous state by event, equal to the actors’ histories, now and as of an earlier offset', async () => {
    const hub = await testHub({ retention: { keepFinishedMs: 120_000 } });
    const recording = await testRecording(hub);
    await testWorker(hub, { id: 'w1', machineId: 'm1', simulations: 2 });
    const first = await submit(hub, { type: 'simulation', payload: { durationMs: 50, steps: 2 } });
    await recording.waitFor(first.id, 'completed');
    const midway = recording.monitor.view.offset as string;
    const jobs = [
      await submit(hub, { type: 'simulation', payload: { durationMs: 200, steps: 4 } }),
      await submit(hub, { type: 'simulation', backoffMs: 20, payload: { durationMs: 50, steps: 1, failTimes: 1 } }),
      await submit(hub, { type: 'simulation', maxAttempts: 1, payload: { durationMs: 20, failTimes: 1 } }),
      await submit(hub, { type: 'nobody-serves-this' }),
    ];
    expect((await api(hub, 'POST', `/api/jobs/${jobs[3].id}/cancel`)).status).toBe(200);
    for (const job of jobs) await recording.waitFor(job.id, (record) => ['completed', 'failed', 'cancelled'].includes(record.state));

    const compare = (a: string, b: string) => hub.store.compareOffsets(a, b);
    for (const kind of ['job', 'connector', 'worker', 'machine'] as const) {
      const { status, body } = await api<RecentAnswer>(hub, 'GET', `/api/machines/${kind}/recent`);
      expect(status).toBe(200);
      expect(body.windowMs).toBe(60_000);
      expect(body.buckets.length, kind).toBeGreaterThan(0);
      expect(tallyOf(body), kind).toEqual(await expectedTally(hub.url, recording.ids(kind), body, compare));
    }
    // The job's life, each way it went: the transitions by their previous state and event.
    const taken = (await api<RecentAnswer>(hub, 'GET', '/api/machines/job/recent')).body.buckets.flatMap((bucket) => bucket.transitions);
    expect(new Set(taken.map(({ from, to, event }) => `${from} -> ${to} (${event})`))).toEqual(
      new Set([
        'null -> pending (xstate.init)',
        'pending -> assigned (ASSIGN)',
        'assigned -> running (START)',
        'running -> running (PROGRESS)',
        'running -> completed (COMPLETE)',
        'running -> retrying (FAIL)',
        'retrying -> pending (xstate.after.retryBackoff.job.retrying)',
        'running -> failed (FAIL)',
        'pending -> cancelled (CANCEL)',
      ]),
    );

    const before = await api<RecentAnswer>(hub, 'GET', `/api/machines/job/recent?offset=${encodeURIComponent(midway)}`);
    expect(before.status).toBe(200);
    expect(before.body.offset).toBe(midway);
    expect(tallyOf(before.body)).toEqual(await expectedTally(hub.url, recording.ids('job'), before.body, compare));
    expect(tallyOf(before.body).size).toBeGreaterThan(0);
  });

  it('refuses a kind that does not exist and an offset that is not one', async () => {
    const hub = await testHub();
    expect((await api(hub, 'GET', '/api/machines/robot/recent')).status).toBe(400);
    expect((await api(hub, 'GET', `/api/machines/job/recent?offset=${'x'.repeat(300)}`)).status).toBe(400);
    const quiet = await api<RecentAnswer>(hub, 'GET', '/api/machines/probe/recent');
    expect(quiet.status).toBe(200);
    expect(quiet.body.buckets).toEqual([]);
  });
});
