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

  it('refuses what is online (409), what is not a worker or machine (400), and unknown ids (404), changing nothing', async () => {
    const hub = await testHub();
    await testWorker(hub, { id: 'w1', machineId: 'm1' });
    const job = await submit(hub, { type: 'nobody' });
    const before = await snapshot(hub);
    expect((await api(hub, 'DELETE', '/api/actors/w1')).status).toBe(409);
    expect((await api(hub, 'DELETE', '/api/actors/m1')).status).toBe(409);
    expect((await api(hub, 'DELETE', `/api/actors/${job.id}`)).status).toBe(400);
    expect((await api(hub, 'DELETE', `/api/actors/${encodeURIComponent('w1/simulation-1')}`)).status).toBe(400);
    expect((await api(hub, 'DELETE', '/api/actors/nope')).status).toBe(404);
    expect(await snapshot(hub)).toEqual(before);
  });

  it('needs the admin role when the hub has tokens', async () => {
    const hub = await testHub({ tokens: { a: 'admin', c: 'client' } });
    expect((await api(hub, 'DELETE', '/api/actors/x', undefined, { authorization: 'Bearer c' })).status).toBe(403);
    expect((await api(hub, 'DELETE', '/api/actors/x', undefined, { authorization: 'Bearer a' })).status).toBe(404);
  });
});
