import { describe, expect, it } from 'vitest';
import type { ActorRecord } from 'statehub';
import { simulationConnector } from 'statehub/worker';
import { spawnWorker } from '../helpers/child-worker.js';
import { recordCommits } from '../helpers/commits.js';
import { snapshot, submit, testHub, testRecording, testWorker } from '../helpers/hub.js';

const context = (record: ActorRecord) => record.snapshot.context as Record<string, any>;

describe('presence: a worker registering', () => {
  it('creates its machine (starting > ready), its worker (ready) and its connectors (starting > idle)', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    const worker = await testWorker(hub, { id: 'w1', machineId: 'host-a', simulations: 2 });
    const connectorIds = [...worker.connectors.keys()];
    expect(connectorIds).toHaveLength(2);
    for (const id of connectorIds) await recording.waitFor(id, 'idle');

    recording.expect('host-a', 'starting > ready');
    recording.expect('w1', 'ready');
    for (const id of connectorIds) recording.expect(id, 'starting > idle');

    const machine = recording.view.get('host-a')!;
    expect(machine.kind).toBe('machine');
    expect(context(machine)).toMatchObject({ onlineWorkers: 1, workers: 1 });
    const record = recording.view.get('w1')!;
    expect(record).toMatchObject({ kind: 'worker', parentId: 'host-a' });
    expect(context(record)).toMatchObject({ machineId: 'host-a', connectorIds });
    for (const id of connectorIds) expect(recording.view.get(id)).toMatchObject({ kind: 'connector', parentId: 'w1' });
  });

  it('shows a worker busy while it holds a job and ready after', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    await testWorker(hub, { id: 'w1' });
    const job = await submit(hub, { type: 'simulation', payload: { durationMs: 50, steps: 2 } });
    await recording.waitFor(job.id, 'completed');
    await recording.waitFor('w1', 'ready');
    recording.expect('w1', 'ready > busy > ready');
    // Busy exactly while the job held its lease.
    const busy = recording.records('w1').find((record) => record.state === 'busy')!;
    const assigned = recording.records(job.id).find((record) => record.state === 'assigned')!;
    expect(busy.updatedAt).toBe(assigned.updatedAt);
  });
});

describe('presence: a worker registering again', () => {
  it('with fewer connectors: the ones it no longer declares leave the live set, and no ghost stays behind', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    const before = await testWorker(hub, { id: 'w1', machineId: 'm1', simulations: 3 });
    for (const id of before.connectors.keys()) await recording.waitFor(id, 'idle');
    await before.stop();
    await recording.waitFor('w1', 'offline');

    const after = await testWorker(hub, { id: 'w1', machineId: 'm1', simulations: 1 });
    await recording.waitFor('w1/simulation-1', 'idle');
    expect([...after.connectors.keys()]).toEqual(['w1/simulation-1']);
    const connectors = (await snapshot(hub)).records.filter((record) => record.kind === 'connector').map((record) => record.id);
    expect(connectors).toEqual(['w1/simulation-1']);
    // Their last records say so in the log, for every monitor.
    for (const id of ['w1/simulation-2', 'w1/simulation-3']) {
      expect(recording.records(id).at(-1)).toMatchObject({ state: 'stopped', removed: true });
      expect(recording.view.has(id)).toBe(false);
    }
    expect(context(recording.view.get('w1')!).connectorIds).toEqual(['w1/simulation-1']);
  });

  it('on another machine: it moves there, and both machines count their workers again', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    const first = await testWorker(hub, { id: 'mover', machineId: 'old-box' });
    await first.stop();
    await recording.waitFor('mover', 'offline');
    await testWorker(hub, { id: 'mover', machineId: 'new-box' });
    await recording.waitFor('new-box', 'ready');

    expect(recording.view.get('mover')).toMatchObject({ parentId: 'new-box', state: 'ready' });
    expect(context(recording.view.get('old-box')!)).toMatchObject({ workers: 0, onlineWorkers: 0 });
    expect(context(recording.view.get('new-box')!)).toMatchObject({ workers: 1, onlineWorkers: 1 });
  });

  it('on another machine while it is online there is refused', async () => {
    const hub = await testHub();
    await testWorker(hub, { id: 'twin', machineId: 'box-a' });
    await expect(testWorker(hub, { id: 'twin', machineId: 'box-b' })).rejects.toThrow(/worker twin is ready on machine box-a/);
  });
});

describe('presence: a worker stopping cleanly', () => {
  it('leaves its connectors stopped, itself offline and its machine offline, and the machine stays in the snapshot', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    const worker = await testWorker(hub, { id: 'w1', machineId: 'host-a', simulations: 2 });
    const connectorIds = [...worker.connectors.keys()];
    for (const id of connectorIds) await recording.waitFor(id, 'idle');

    await worker.stop();
    await recording.waitFor('w1', 'offline');
    await recording.waitFor('host-a', 'offline');
    for (const id of connectorIds) {
      await recording.waitFor(id, 'stopped');
      recording.expect(id, 'starting > idle > stopped');
    }
    recording.expect('w1', 'ready > offline');
    recording.expect('host-a', 'starting > ready > offline');

    const current = await snapshot(hub);
    const byId = new Map(current.records.map((record) => [record.id, record]));
    expect(byId.get('host-a')).toMatchObject({ kind: 'machine', state: 'offline' });
    expect(context(byId.get('host-a'))).toMatchObject({ onlineWorkers: 0, workers: 1 });
    expect(byId.get('w1')).toMatchObject({ state: 'offline' });
    for (const id of connectorIds) expect(byId.get(id)).toMatchObject({ state: 'stopped' });
  });

  it('keeps the machine ready while another of its workers is online', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    const first = await testWorker(hub, { id: 'w1', machineId: 'shared' });
    const second = await testWorker(hub, { id: 'w2', machineId: 'shared' });
    await recording.waitFor('shared', (record) => context(record).onlineWorkers === 2);

    await first.stop();
    await recording.waitFor('w1', 'offline');
    const machine = await recording.waitFor('shared', (record) => context(record).onlineWorkers === 1);
    expect(machine.state).toBe('ready');

    await second.stop();
    await recording.waitFor('shared', 'offline');
    recording.expect('shared', 'starting > ready > offline');
  });
});

describe('presence: a worker process that dies', () => {
  it('marks a killed worker stale within the heartbeat window, its connectors offline in the same commit, and retries its job elsewhere', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    const commits = recordCommits(hub);
    const doomed = await spawnWorker(hub.url, { id: 'doomed', machineId: 'doomed-host', connectors: ['hold'] });
    const doomedConnector = 'doomed/hold-1';
    await recording.waitFor(doomedConnector, 'idle');

    const job = await submit(hub, { type: 'hold', payload: { durationMs: 10, steps: 2 } });
    await recording.waitFor(job.id, (record) => record.state === 'running' && context(record).workerId === 'doomed');
    await recording.waitFor(doomedConnector, 'active');
    // The rescuer serves the same type; it joins once the job is held, so nothing is left for it yet.
    await testWorker(hub, { id: 'rescuer', machineId: 'rescue-host', connectors: [simulationConnector({ type: 'hold', startupMs: 1 })] });

    doomed.process.kill('SIGKILL');
    await doomed.exited();

    const done = await recording.waitFor(job.id, 'completed');
    expect(context(done)).toMatchObject({ workerId: 'rescuer', attempts: 2, error: null });
    recording.expect(job.id, 'pending > assigned > running > pending > assigned > running > completed');
    const retried = recording.records(job.id).find((record, index) => index > 0 && record.state === 'pending')!;
    expect(context(retried)).toMatchObject({ attempts: 1, workerId: null, connectorId: null, error: { message: expect.stringContaining('doomed') } });

    // Its connection dropping says nothing by itself (a network cut looks the same): the heartbeat window does.
    await recording.waitFor('doomed', 'offline');
    recording.expect('doomed', 'ready > busy > stale > offline');
    recording.expect(doomedConnector, 'starting > idle > active > offline');
    recording.expect('doomed-host', 'starting > ready > offline');

    // One atomic step: the worker stale, its connector offline, its job released, its machine offline.
    const step = commits.find('doomed', (record) => record.state === 'stale');
    expect(step).toBeDefined();
    const inStep = new Map(step!.map((record) => [record.id, record]));
    expect(inStep.get(doomedConnector)?.state).toBe('offline');
    expect(inStep.get(job.id)?.state).toBe('pending');
    expect(inStep.get('doomed-host')?.state).toBe('offline');
    expect(new Set(step!.map((record) => record.updatedAt)).size).toBe(1);
    const workerStale = recording.records('doomed').find((record) => record.state === 'stale')!;
    const connectorOffline = recording.records(doomedConnector).at(-1)!;
    expect(connectorOffline.updatedAt).toBe(workerStale.updatedAt);

    // No job lost, none left held; the dead machine stays visible, greyed.
    const current = await snapshot(hub);
    expect(current.records.filter((record) => record.kind === 'job' && (record.state === 'assigned' || record.state === 'running'))).toEqual([]);
    expect(current.records.find((record) => record.id === 'doomed-host')).toMatchObject({ state: 'offline' });
    expect(current.records.find((record) => record.id === doomedConnector)).toMatchObject({ state: 'offline' });
  });

  it('marks a frozen worker stale (connectors offline, job retried elsewhere), then offline, and takes it back when it resumes', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    const commits = recordCommits(hub);
    const frozen = await spawnWorker(hub.url, { id: 'frozen', machineId: 'frozen-host', connectors: ['hold'] });
    const frozenConnector = 'frozen/hold-1';
    await recording.waitFor(frozenConnector, 'idle');

    const job = await submit(hub, { type: 'hold', payload: { durationMs: 10, steps: 2 } });
    await recording.waitFor(job.id, (record) => record.state === 'running' && context(record).workerId === 'frozen');
    await recording.waitFor(frozenConnector, 'active');
    const rescuer = await testWorker(hub, { id: 'rescuer', machineId: 'rescue-host', connectors: [simulationConnector({ type: 'hold', startupMs: 1 })] });

    frozen.process.kill('SIGSTOP');
    await recording.waitFor('frozen', 'stale');
    const staleStep = commits.find('frozen', (record) => record.state === 'stale')!;
    expect(staleStep.find((record) => record.id === frozenConnector)?.state).toBe('offline');
    expect(staleStep.find((record) => record.id === job.id)?.state).toBe('pending');

    const done = await recording.waitFor(job.id, 'completed');
    expect(context(done)).toMatchObject({ workerId: 'rescuer', attempts: 2 });
    await recording.waitFor('frozen', 'offline');
    await recording.waitFor('frozen-host', 'offline');
    recording.expect('frozen', 'ready > busy > stale > offline');
    recording.expect(frozenConnector, 'starting > idle > active > offline');
    expect(recording.view.get('frozen-host')).toBeDefined();

    frozen.process.kill('SIGCONT');
    await recording.waitFor('frozen', 'ready');
    await recording.waitFor(frozenConnector, 'idle');
    await recording.waitFor('frozen-host', 'ready');
    recording.expect('frozen', 'ready > busy > stale > offline > ready');
    recording.expect(frozenConnector, 'starting > idle > active > offline > idle');
    recording.expect('frozen-host', 'starting > ready > offline > ready');
    // The job finished once, elsewhere: the resumed worker's late work did not touch it.
    recording.expect(job.id, 'pending > assigned > running > pending > assigned > running > completed');

    // It is a full member again: with the rescuer gone, it takes new work.
    await rescuer.stop();
    await recording.waitFor('rescuer', 'offline');
    const next = await submit(hub, { type: 'hold' });
    const running = await recording.waitFor(next.id, 'running');
    expect(context(running)).toMatchObject({ workerId: 'frozen', connectorId: frozenConnector });
  });

  it('takes a frozen worker back when it resumes while still stale, before it is offline', async () => {
    // Slow enough to go offline that the worker resumes well before it does.
    const hub = await testHub({ timings: { heartbeatMs: 50, staleAfterMs: 300, offlineAfterMs: 60_000 } });
    const recording = await testRecording(hub);
    const frozen = await spawnWorker(hub.url, { id: 'napper', machineId: 'napper-host', connectors: ['hold'] });
    const connectorId = 'napper/hold-1';
    await recording.waitFor(connectorId, 'idle');
    const job = await submit(hub, { type: 'hold', maxAttempts: 3 });
    await recording.waitFor(job.id, 'running');
    await recording.waitFor(connectorId, 'active');

    frozen.process.kill('SIGSTOP');
    await recording.waitFor('napper', 'stale');
    await recording.waitFor(connectorId, 'offline');
    // Nobody else serves `hold`: the released job waits.
    await recording.waitFor(job.id, 'pending');

    frozen.process.kill('SIGCONT');
    await recording.waitFor('napper', (record) => record.state !== 'stale');
    // Back, it takes the waiting job again: a second attempt, on the same worker.
    const running = await recording.waitFor(job.id, (record) => record.state === 'running' && context(record).attempts === 2);
    expect(context(running)).toMatchObject({ workerId: 'napper', connectorId });
    await recording.waitFor(connectorId, (record) => record.state === 'active' && context(record).jobId === job.id);
    expect(recording.states('napper')).toEqual(['ready', 'busy', 'stale', 'ready', 'busy']);
    expect(recording.states(connectorId)).toEqual(['starting', 'idle', 'active', 'offline', 'idle', 'active']);
    recording.expect(job.id, 'pending > assigned > running > pending > assigned > running');
  });
});
