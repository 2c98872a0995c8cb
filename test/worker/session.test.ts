/**
 * A worker's session outlives its connections: a network cut between worker and hub costs no
 * job an attempt. Only a worker away longer than the heartbeat window (its lease expired) loses
 * its jobs, and then it stops the work the hub gave to others.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { WORKER_TIMING_DEFAULTS } from 'statehub/machines';
import { simulationConnector } from 'statehub/worker';
import { startHub, type ActorRecord, type Hub } from 'statehub';
import { controlledConnector } from '../helpers/connectors.js';
import { FAST_TIMINGS, api, submit, testHub, testRecording, testWorker } from '../helpers/hub.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { startRedisServer } from '../helpers/redis.js';

const context = (record: ActorRecord) => record.snapshot.context as Record<string, any>;

/** The hub's own timings (heartbeat 1 s, stale after 3 s): a one-second cut is well inside them. */
const DEFAULT_TIMINGS = { timings: WORKER_TIMING_DEFAULTS };

describe('a worker whose connection drops', () => {
  it('resumes its session after a one-second cut: the running job goes on and completes on attempt 1, the worker never goes stale', async () => {
    const hub = await testHub(DEFAULT_TIMINGS);
    const proxy = await startTcpProxy(hub.port);
    const recording = await testRecording(hub);
    const lines: string[] = [];
    await testWorker(proxy.url, { id: 'w6', machineId: 'm6', log: (line) => lines.push(line) });
    const job = await submit(hub, { type: 'simulation', maxAttempts: 1, payload: { durationMs: 3_000, steps: 6 } });
    await recording.waitFor(job.id, (record) => record.state === 'running' && context(record).progress > 0);

    await proxy.cut(1_000);

    const done = await recording.waitFor(job.id, 'completed', { timeoutMs: 15_000 });
    expect(context(done)).toMatchObject({ attempts: 1, workerId: 'w6', error: null });
    recording.expect(job.id, 'pending > assigned > running > completed');
    await recording.waitFor('w6', 'ready');
    recording.expect('w6', 'ready > busy > ready');
    recording.expect('w6/simulation-1', 'starting > idle > active > idle');
    expect(proxy.connections).toBeGreaterThanOrEqual(2);
    expect(lines.some((line) => /resumed its session/.test(line))).toBe(true);
  });

  it('delivers the outcome of a job that finished while it was cut off', async () => {
    const hub = await testHub(DEFAULT_TIMINGS);
    const proxy = await startTcpProxy(hub.port);
    const recording = await testRecording(hub);
    await testWorker(proxy.url, { id: 'w7', machineId: 'm7' });
    const job = await submit(hub, { type: 'simulation', maxAttempts: 1, payload: { durationMs: 600, steps: 2 } });
    await recording.waitFor(job.id, 'running');

    // The job ends (at 600 ms) in the middle of the cut.
    await proxy.cut(1_200);

    const done = await recording.waitFor(job.id, 'completed', { timeoutMs: 15_000 });
    expect(context(done)).toMatchObject({ attempts: 1, workerId: 'w7', result: { attempt: 1 } });
    recording.expect(job.id, 'pending > assigned > running > completed');
    expect(recording.states('w7')).not.toContain('stale');
  });

  it('stops a job cancelled while it was cut off, as soon as it is back', async () => {
    const hub = await testHub(DEFAULT_TIMINGS);
    const proxy = await startTcpProxy(hub.port);
    const recording = await testRecording(hub);
    const connector = controlledConnector({ id: 'held-ctl' });
    await testWorker(proxy.url, { id: 'w8', machineId: 'm8', connectors: [connector.implementation] });
    const job = await submit(hub, { type: 'controlled', payload: { hold: true } });
    await connector.started(job.id);
    await recording.waitFor(job.id, 'running');

    const cut = proxy.cut(1_000);
    // The hub cannot reach the worker now: only its resumed session can tell it.
    expect((await api(hub, 'POST', `/api/jobs/${job.id}/cancel`)).status).toBe(200);
    await cut;

    await connector.aborted(job.id);
    await recording.waitFor('held-ctl', 'idle');
    recording.expect('held-ctl', 'starting > idle > active > idle');
    recording.expect(job.id, 'pending > assigned > running > cancelled');
  });

  it('keeps draining across a cut: it finishes its job, never takes new ones, then goes offline', async () => {
    const hub = await testHub(DEFAULT_TIMINGS);
    const proxy = await startTcpProxy(hub.port);
    const recording = await testRecording(hub);
    const worker = await testWorker(proxy.url, { id: 'w9', machineId: 'm9', connectors: [simulationConnector({ id: 'drain-sim', startupMs: 1 })] });
    const job = await submit(hub, { type: 'simulation', maxAttempts: 1, payload: { durationMs: 2_500, steps: 5 } });
    await recording.waitFor(job.id, 'running');
    const drained = worker.drain();
    await recording.waitFor('w9', 'draining');

    await proxy.cut(1_000);
    const queued = await submit(hub, { type: 'simulation', payload: { durationMs: 1, steps: 1 } });
    await drained;

    await recording.waitFor('w9', 'offline');
    recording.expect('w9', 'ready > busy > draining > offline');
    expect(context(await recording.waitFor(job.id, 'completed'))).toMatchObject({ attempts: 1, workerId: 'w9' });
    expect(recording.states(queued.id)).toEqual(['pending']);
  });

  it('away longer than the heartbeat window, it gets a new session and stops the work the hub gave to another worker', async () => {
    const hub = await testHub();
    const proxy = await startTcpProxy(hub.port);
    const recording = await testRecording(hub);
    const away = controlledConnector({ id: 'away-ctl' });
    const lines: string[] = [];
    await testWorker(proxy.url, { id: 'away', machineId: 'm1', connectors: [away.implementation], log: (line) => lines.push(line) });
    const job = await submit(hub, { type: 'controlled', payload: { hold: true } });
    await away.started(job.id);
    const rescuer = controlledConnector({ id: 'rescue-ctl' });
    await testWorker(hub, { id: 'rescuer', machineId: 'm2', connectors: [rescuer.implementation] });

    // FAST_TIMINGS: stale after 300 ms, so a 1.5 s cut is a lost lease.
    await proxy.cut(FAST_TIMINGS.staleAfterMs + 1_200);

    expect(await rescuer.started(job.id)).toMatchObject({ attempt: 2 });
    await away.aborted(job.id);
    await recording.waitFor('away', 'ready');
    expect(recording.states('away')).toContain('stale');
    expect(lines.some((line) => /new session/.test(line))).toBe(true);
    await recording.waitFor('away-ctl', 'idle');
  });

  it('resumes on a hub that just started, which gives it new jobs although its session changed no record, and stops a held job cancelled there', async () => {
    const redis = await startRedisServer();
    onTestFinished(() => redis.stop());
    // A wide heartbeat window: the resume, not the stale timer, is what this is about.
    const options = { port: 0, logger: false as const, redis: redis.url, timings: { heartbeatMs: 200, staleAfterMs: 10_000, offlineAfterMs: 10_000 } };
    let hub: Hub = await startHub(options);
    onTestFinished(() => hub.close());
    const lines: string[] = [];
    const held = controlledConnector({ id: 'phoenix-ctl' });
    await testWorker(hub, { id: 'phoenix', machineId: 'm', log: (line) => lines.push(line), connectors: [held.implementation, simulationConnector({ startupMs: 1 })] });
    const holding = await submit(hub, { type: 'controlled', payload: { hold: true } });
    await held.started(holding.id);
    await hub.close();
    hub = await startHub({ ...options, port: hub.port });
    await expect.poll(() => lines.some((line) => /resumed its session/.test(line)), { timeout: 10_000 }).toBe(true);

    const recording = await testRecording(hub);
    const job = await submit(hub, { type: 'simulation', payload: { durationMs: 1, steps: 1 } });
    expect(context(await recording.waitFor(job.id, 'completed'))).toMatchObject({ workerId: 'phoenix', attempts: 1 });
    expect((await api(hub, 'POST', `/api/jobs/${holding.id}/cancel`)).status).toBe(200);
    await held.aborted(holding.id);
    expect(context(await recording.waitFor('phoenix-ctl', 'idle')).jobsDone).toBe(0);
  });
});
