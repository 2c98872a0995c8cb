/** History, throughput and removal: what the monitor's pages read besides the stream. */
import { describe, expect, it } from 'vitest';
import { api, snapshot, submit, testHub, testRecording, testWorker } from '../helpers/hub.js';

describe('GET /api/jobs/:id/history', () => {
  it('lists every change of a job, oldest first, with offsets and timestamps', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    await testWorker(hub);
    const job = await submit(hub, { type: 'simulation', backoffMs: 10, payload: { durationMs: 10, steps: 1, failTimes: 1 } });
    await recording.waitFor(job.id, 'completed');

    const { status, body } = await api(hub, 'GET', `/api/jobs/${job.id}/history`);
    expect(status).toBe(200);
    expect(body.entries.map((entry: any) => entry.record.seq)).toEqual(recording.records(job.id).map((record) => record.seq));
    expect(body.entries.map((entry: any) => entry.record.state)).toEqual(recording.records(job.id).map((record) => record.state));
    expect(body.entries.every((entry: any) => typeof entry.offset === 'string' && !Number.isNaN(Date.parse(entry.record.updatedAt)))).toBe(true);
  });

  it('answers 404 for an unknown job, or an id that is not a job', async () => {
    const hub = await testHub();
    await testWorker(hub, { id: 'w1' });
    expect((await api(hub, 'GET', '/api/jobs/nope/history')).status).toBe(404);
    expect((await api(hub, 'GET', '/api/jobs/w1/history')).status).toBe(404);
    expect((await api(hub, 'GET', '/api/actors/w1/history')).body.entries[0].record).toMatchObject({ id: 'w1', seq: 1, state: 'ready' });
  });
});

describe('GET /api/throughput', () => {
  it('counts completed and failed jobs in 10 s buckets over the last 15 minutes', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    await testWorker(hub);
    const ok = await submit(hub, { type: 'simulation', payload: { durationMs: 5 } });
    const bad = await submit(hub, { type: 'simulation', maxAttempts: 1, payload: { durationMs: 5, failTimes: 1 } });
    await recording.waitFor(ok.id, 'completed');
    await recording.waitFor(bad.id, 'failed');

    const { body } = await api(hub, 'GET', '/api/throughput');
    expect(body.bucketMs).toBe(10_000);
    expect(body.buckets).toHaveLength(90);
    const total = (field: 'completed' | 'failed') => body.buckets.reduce((sum: number, bucket: any) => sum + bucket[field], 0);
    expect([total('completed'), total('failed')]).toEqual([1, 1]);
  });
});

describe('DELETE /api/actors/:id', () => {
  it('removes an offline worker with its connectors; the machine stays, counting one worker less', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    const leaving = await testWorker(hub, { id: 'leaving', machineId: 'box', simulations: 2 });
    await testWorker(hub, { id: 'staying', machineId: 'box' });
    await leaving.stop();
    await recording.waitFor('leaving', 'offline');

    const { status, body } = await api(hub, 'DELETE', '/api/actors/leaving');
    expect(status).toBe(200);
    expect(body).toMatchObject({ id: 'leaving', removed: true });
    const current = await snapshot(hub);
    const ids = current.records.map((record) => record.id);
    expect(ids).not.toContain('leaving');
    expect(ids).not.toContain('leaving/simulation-1');
    expect(current.records.find((record) => record.id === 'box')?.snapshot.context).toMatchObject({ workers: 1, onlineWorkers: 1 });
    // Still readable by id, and a comeback starts where its seq left off.
    expect((await api(hub, 'GET', '/api/actors/leaving')).body.removed).toBe(true);
    await testWorker(hub, { id: 'leaving', machineId: 'box' });
    const back = await recording.waitFor('leaving', 'ready');
    expect(back.seq).toBe(body.seq + 1);
  });

  it('removes an offline machine with its workers and connectors', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    const worker = await testWorker(hub, { id: 'w1', machineId: 'gone' });
    await worker.stop();
    await recording.waitFor('gone', 'offline');
    expect((await api(hub, 'DELETE', '/api/actors/gone')).status).toBe(200);
    const ids = (await snapshot(hub)).records.map((record) => record.id);
    expect(ids.filter((id) => ['gone', 'w1', 'w1/simulation-1'].includes(id))).toEqual([]);
  });

  it('removes a finished job from the live set; it stays readable by id', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    await testWorker(hub);
    const job = await submit(hub, { type: 'simulation', payload: { durationMs: 1, steps: 1 } });
    await recording.waitFor(job.id, 'completed');
    const { status, body } = await api(hub, 'DELETE', `/api/jobs/${job.id}`.replace('/jobs/', '/actors/'));
    expect(status).toBe(200);
    expect(body).toMatchObject({ id: job.id, state: 'completed', removed: true });
    expect((await snapshot(hub)).records.map((record) => record.id)).not.toContain(job.id);
    expect((await api(hub, 'GET', `/api/jobs/${job.id}`)).body).toMatchObject({ state: 'completed', removed: true });
  });

  it('removes a connector whose worker is not online', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    const worker = await testWorker(hub, { id: 'w1', simulations: 2 });
    await worker.stop();
    await recording.waitFor('w1', 'offline');
    expect((await api(hub, 'DELETE', `/api/actors/${encodeURIComponent('w1/simulation-2')}`)).status).toBe(200);
    const ids = (await snapshot(hub)).records.map((record) => record.id);
    expect(ids).toContain('w1/simulation-1');
    expect(ids).not.toContain('w1/simulation-2');
  });

  it('refuses what runs work or belongs to what does (409, saying why) and unknown ids (404), changing nothing', async () => {
    const hub = await testHub();
    await testWorker(hub, { id: 'w1', machineId: 'm1' });
    const job = await submit(hub, { type: 'nobody' });
    const before = await snapshot(hub);
    const refusal = async (id: string) => {
      const { status, body } = await api(hub, 'DELETE', `/api/actors/${encodeURIComponent(id)}`);
      return [status, body.error.message];
    };
    expect(await refusal('w1')).toEqual([409, 'worker w1 is ready: only a stale or offline worker can be removed']);
    expect(await refusal('m1')).toEqual([409, 'machine m1 has 1 online worker(s) (w1)']);
    expect(await refusal(job.id)).toEqual([409, `job ${job.id} is pending: cancel it first`]);
    expect(await refusal('w1/simulation-1')).toEqual([
      409,
      'connector w1/simulation-1 belongs to worker w1, which is ready and runs it: stop that worker, or start it without this connector',
    ]);
    expect(await refusal('nope')).toEqual([404, 'no actor nope']);
    expect(await snapshot(hub)).toEqual(before);
  });

  it('needs the admin role when the hub has tokens', async () => {
    const hub = await testHub({ tokens: { a: 'admin', c: 'client' } });
    expect((await api(hub, 'DELETE', '/api/actors/x', undefined, { authorization: 'Bearer c' })).status).toBe(403);
    expect((await api(hub, 'DELETE', '/api/actors/x', undefined, { authorization: 'Bearer a' })).status).toBe(404);
  });
});
