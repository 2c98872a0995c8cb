/**
 * GET /metrics under load: the gauges count the records (and equal what /api/snapshot holds), the
 * counters and durations follow every change, and every family is named statehub_*.
 */
import { describe, expect, it } from 'vitest';
import type { ActorRecord, Hub } from 'statehub';
import { MAX_TYPE_LABELS, OTHER_TYPES } from '../../src/hub/type-labels.js';
import { api, snapshot, submit, testHub, testRecording, testWorker } from '../helpers/hub.js';
import { scrape, type Scrape } from '../helpers/prometheus.js';

/** Polls until `check` passes (it throws while not), for at most 10 s; rethrows its last failure. */
async function eventually<T>(check: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
}

/** Live actors counted from GET /api/snapshot, as `statehub_actors` labels them. */
async function snapshotCounts(hub: Hub): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const record of (await snapshot(hub)).records as ActorRecord[]) {
    const key = `kind=${record.kind},state=${record.state}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

/** The non-zero series of a gauge. */
function nonZero(metrics: Scrape, name: string): Record<string, number> {
  return Object.fromEntries(Object.entries(metrics.series(name)).filter(([, value]) => value !== 0));
}

const seconds = (from: string, to: string) => (Date.parse(to) - Date.parse(from)) / 1_000;

describe('GET /metrics', () => {
  it('names every family statehub_*, with the kinds of metrics the README lists', async () => {
    const hub = await testHub();
    const metrics = await scrape(hub);
    for (const name of metrics.types.keys()) expect(name).toMatch(/^statehub_/);
    expect(Object.fromEntries([...metrics.types].filter(([name]) => !name.startsWith('statehub_process_')))).toEqual({
      statehub_actors: 'gauge',
      statehub_jobs: 'gauge',
      statehub_workers: 'gauge',
      statehub_connectors: 'gauge',
      statehub_probe_state: 'gauge',
      statehub_probe_latency_seconds: 'gauge',
      statehub_monitors: 'gauge',
      statehub_worker_connections: 'gauge',
      statehub_log_offset: 'gauge',
      statehub_log_length: 'gauge',
      statehub_changes_total: 'counter',
      statehub_transitions_total: 'counter',
      statehub_jobs_finished_total: 'counter',
      statehub_job_retries_total: 'counter',
      statehub_job_failures_total: 'counter',
      statehub_job_wait_seconds: 'histogram',
      statehub_job_run_seconds: 'histogram',
      statehub_fanout_lag_seconds: 'histogram',
      statehub_store_call_duration_seconds: 'histogram',
    });
    // An empty hub: every state of every kind is there, at zero (an alert on a state needs its series).
    expect(metrics.value('statehub_actors', { kind: 'job', state: 'pending' })).toBe(0);
    expect(metrics.value('statehub_workers', { state: 'stale' })).toBe(0);
    expect(metrics.value('statehub_log_offset')).toBe(0);
  });

  it('moves with load: jobs submitted, run, retried, failed, cancelled; gauges equal the snapshot, durations come from the records', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    const idle = await scrape(hub);
    expect(idle.value('statehub_monitors')).toBe(1);
    expect(nonZero(idle, 'statehub_jobs')).toEqual({});

    // A job no connector serves waits pending; cancelled, it is final.
    const stranded = await submit(hub, { type: 'nobody' });
    const waiting = await scrape(hub);
    expect(waiting.value('statehub_jobs', { state: 'pending', type: 'nobody' })).toBe(1);
    expect(waiting.value('statehub_jobs', { state: 'running', type: 'nobody' })).toBe(0);
    expect(waiting.value('statehub_actors', { kind: 'job', state: 'pending' })).toBe(1);
    expect((await api(hub, 'POST', `/api/jobs/${stranded.id}/cancel`)).status).toBe(200);
    const cancelled = await scrape(hub);
    expect(nonZero(cancelled, 'statehub_jobs')).toEqual({ 'state=cancelled,type=nobody': 1 });
    expect(cancelled.value('statehub_jobs_finished_total', { state: 'cancelled', type: 'nobody' })).toBe(1);

    await testWorker(hub, { simulations: 2 });
    const work = { type: 'simulation', backoffMs: 10 };
    const plain = { ...work, payload: { durationMs: 20, steps: 2 } };
    const failOnce = { ...work, payload: { durationMs: 20, steps: 1, failTimes: 1 } };
    const failForGood = { ...work, maxAttempts: 2, payload: { durationMs: 5, steps: 1, failTimes: 5 } };
    const jobs = await Promise.all([plain, plain, plain, failOnce, failOnce, failForGood].map((job) => submit(hub, job)));
    for (const job of jobs) await recording.waitFor(job.id, (record) => record.state === 'completed' || record.state === 'failed');

    const after = await eventually(async () => {
      const metrics = await scrape(hub);
      // The gauges are the records: the same counts as the snapshot, state by state.
      expect(nonZero(metrics, 'statehub_actors')).toEqual(await snapshotCounts(hub));
      return metrics;
    });
    const type = { type: 'simulation' };
    expect(nonZero(after, 'statehub_jobs')).toEqual({ 'state=completed,type=simulation': 5, 'state=failed,type=simulation': 1, 'state=cancelled,type=nobody': 1 });
    expect(after.value('statehub_jobs_finished_total', { state: 'completed', ...type })).toBe(5);
    expect(after.value('statehub_jobs_finished_total', { state: 'failed', ...type })).toBe(1);
    // Retries: one per job failing once, one for the job failing for good (its second attempt is its last).
    expect(after.value('statehub_job_retries_total', type)).toBe(3);
    expect(after.value('statehub_job_failures_total', type)).toBe(4);
    expect(after.value('statehub_transitions_total', { kind: 'job', from: 'none', to: 'pending' })).toBe(7);
    expect(after.value('statehub_transitions_total', { kind: 'job', from: 'pending', to: 'assigned' })).toBe(3 + 2 * 2 + 2);
    expect(after.value('statehub_transitions_total', { kind: 'job', from: 'pending', to: 'cancelled' })).toBe(1);
    expect(after.sum('statehub_workers')).toBe(1);
    expect(after.sum('statehub_connectors', { type: 'simulation' })).toBe(2);
    expect(after.value('statehub_worker_connections')).toBe(1);

    // Durations, from the records' own times: wait = submission to first start, run = running to what followed.
    let waited = 0;
    let ran = 0;
    for (const job of jobs) {
      const history = (await api(hub, 'GET', `/api/jobs/${job.id}/history`)).body.entries.map((entry: { record: ActorRecord }) => entry.record) as ActorRecord[];
      const changes = history.filter((record, index) => index === 0 || record.state !== history[index - 1]!.state);
      const firstStart = changes.find((record) => record.state === 'running')!;
      waited += seconds(job.snapshot.context.createdAt, firstStart.stateSince!);
      changes.forEach((record, index) => {
        if (index > 0 && changes[index - 1]!.state === 'running') ran += seconds(changes[index - 1]!.stateSince!, record.stateSince!);
      });
    }
    expect(after.value('statehub_job_wait_seconds_count', type)).toBe(6);
    expect(after.value('statehub_job_wait_seconds_sum', type)).toBeCloseTo(waited, 6);
    expect(after.value('statehub_job_run_seconds_count', { ...type, outcome: 'completed' })).toBe(5);
    expect(after.value('statehub_job_run_seconds_count', { ...type, outcome: 'retrying' })).toBe(3);
    expect(after.value('statehub_job_run_seconds_count', { ...type, outcome: 'failed' })).toBe(1);
    expect(after.sum('statehub_job_run_seconds_sum', type)).toBeCloseTo(ran, 6);
    expect(after.value('statehub_job_wait_seconds_count', { type: 'nobody' })).toBeUndefined();

    // The log: every change this hub delivered is one appended to its (memory) store, and each was fanned out.
    const settled = await eventually(async () => {
      const metrics = await scrape(hub);
      const changes = metrics.sum('statehub_changes_total');
      expect(metrics.value('statehub_log_offset')).toBe(changes);
      expect(metrics.value('statehub_fanout_lag_seconds_count')).toBe(changes);
      return metrics;
    });
    expect(settled.value('statehub_log_length')).toBe(settled.value('statehub_log_offset'));
    expect(settled.sum('statehub_changes_total', { kind: 'job' })).toBeGreaterThan(7 * 3);
    expect(settled.value('statehub_store_call_duration_seconds_count', { op: 'commit' })).toBeGreaterThan(0);
    expect(settled.value('statehub_store_call_duration_seconds_count', { op: 'logStats' })).toBeGreaterThan(0);
  });

  it('counts a finished job out of the gauges when it leaves the live set, and its removal as a transition', async () => {
    const hub = await testHub({ retention: { keepFinishedMs: 0 } });
    await testWorker(hub);
    const job = await submit(hub, { type: 'simulation', payload: { durationMs: 1, steps: 0 } });
    const gone = await eventually(async () => {
      const metrics = await scrape(hub);
      expect(metrics.value('statehub_transitions_total', { kind: 'job', from: 'completed', to: 'removed' })).toBe(1);
      return metrics;
    });
    expect((await api(hub, 'GET', `/api/jobs/${job.id}`)).body.removed).toBe(true);
    expect(nonZero(gone, 'statehub_jobs')).toEqual({});
    expect(gone.value('statehub_jobs_finished_total', { state: 'completed', type: 'simulation' })).toBe(1);
  });

  it('reports probes from their records: the state each is in, and its latency', async () => {
    const hub = await testHub();
    // Probes are actors of kind `probe`; written straight to the store, as a probe runner would commit them.
    const probe = (seq: number, state: string, latencyMs: number | null): ActorRecord => ({
      id: 'probe:store',
      kind: 'probe',
      seq,
      state,
      snapshot: { status: 'active', value: state, context: { latencyMs }, children: {} },
      updatedAt: new Date().toISOString(),
    });
    await hub.store.commit({ records: [probe(1, 'healthy', 12)] });
    const healthy = await scrape(hub);
    expect(healthy.series('statehub_probe_state')).toEqual({
      'probe=probe:store,state=unknown': 0,
      'probe=probe:store,state=healthy': 1,
      'probe=probe:store,state=degraded': 0,
      'probe=probe:store,state=unhealthy': 0,
    });
    expect(healthy.value('statehub_probe_latency_seconds', { probe: 'probe:store' })).toBe(0.012);
    expect(healthy.value('statehub_actors', { kind: 'probe', state: 'healthy' })).toBe(1);

    await hub.store.commit({ records: [probe(2, 'unhealthy', null)] });
    const down = await scrape(hub);
    expect(down.value('statehub_probe_state', { probe: 'probe:store', state: 'unhealthy' })).toBe(1);
    expect(down.value('statehub_probe_state', { probe: 'probe:store', state: 'healthy' })).toBe(0);
    expect(down.value('statehub_probe_latency_seconds', { probe: 'probe:store' })).toBeUndefined();
    expect(down.value('statehub_transitions_total', { kind: 'probe', from: 'healthy', to: 'unhealthy' })).toBe(1);
  });

  it(`labels at most ${MAX_TYPE_LABELS} job types by name; later ones share "${OTHER_TYPES}"`, async () => {
    const hub = await testHub();
    const types = Array.from({ length: MAX_TYPE_LABELS + 1 }, (_, index) => `type-${index}`);
    expect((await api(hub, 'POST', '/api/jobs/batch', { jobs: types.map((type) => ({ type })) })).status).toBe(201);
    const metrics = await scrape(hub);
    const pending = Object.entries(metrics.series('statehub_jobs')).filter(([labels, value]) => labels.startsWith('state=pending,') && value > 0);
    expect(pending).toHaveLength(MAX_TYPE_LABELS + 1);
    expect(metrics.value('statehub_jobs', { state: 'pending', type: OTHER_TYPES })).toBe(1);
    expect(metrics.value('statehub_jobs', { state: 'pending', type: types[0]! })).toBe(1);
  });
});
