import { describe, expect, it, onTestFinished } from 'vitest';
import { startHub, type ActorRecord } from 'statehub';
import { createWorker, simulationConnector } from 'statehub/worker';
import { recordActor } from 'statehub/testing';
import { controlledConnector } from '../helpers/connectors.js';
import { FAST_TIMINGS, api, submit, testHub, testRecording, testWorker } from '../helpers/hub.js';

const context = (record: ActorRecord) => record.snapshot.context as Record<string, any>;

describe('createWorker options', () => {
  it('registers with the given id, machine, capabilities and connector ids', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    const capabilities = { gpus: 2, models: ['sdxl', 'flux'], region: 'eu' };
    const worker = createWorker({
      hub: hub.url,
      id: 'worker-7',
      machineId: 'rack-3',
      capabilities,
      connectors: [
        simulationConnector({ id: 'named-sim', startupMs: 1 }),
        simulationConnector({ startupMs: 1 }),
        simulationConnector({ type: 'render', startupMs: 1 }),
      ],
    });
    onTestFinished(() => worker.stop());
    expect(worker.id).toBe('worker-7');
    expect(worker.machineId).toBe('rack-3');
    await worker.ready();

    const ids = [...worker.connectors.keys()];
    expect(ids).toHaveLength(3);
    expect(ids[0]).toBe('named-sim');
    expect(ids[1]).toMatch(/^worker-7\/simulation-\d+$/);
    expect(ids[2]).toBe('worker-7/render-1');

    const record = await recording.waitFor('worker-7', 'ready');
    expect(record).toMatchObject({ kind: 'worker', parentId: 'rack-3' });
    expect(context(record)).toMatchObject({ machineId: 'rack-3', capabilities, connectorIds: ids });
    expect(recording.view.get('rack-3')).toMatchObject({ kind: 'machine', state: 'ready' });
    for (const id of ids) {
      const connector = await recording.waitFor(id, 'idle');
      expect(connector).toMatchObject({ kind: 'connector', parentId: 'worker-7' });
    }
    expect(context(recording.view.get('named-sim')!).type).toBe('simulation');
    expect(context(recording.view.get('worker-7/render-1')!).type).toBe('render');
  });

  it('names a worker <machineId>-<pid> by default', async () => {
    const hub = await testHub();
    const worker = await testWorker(hub, { machineId: 'box' });
    expect(worker.id).toBe(`box-${process.pid}`);
    expect([...worker.connectors.keys()]).toEqual([`box-${process.pid}/simulation-1`]);
  });

  it('refuses two connectors with the same id', () => {
    expect(() =>
      createWorker({
        hub: 'http://127.0.0.1:9',
        id: 'w',
        connectors: [simulationConnector({ id: 'twin' }), simulationConnector({ id: 'twin', type: 'other' })],
      }),
    ).toThrow(/connector id twin is used twice/);
    // An explicit id may not take the default id of another connector either.
    expect(() =>
      createWorker({
        hub: 'http://127.0.0.1:9',
        id: 'w',
        connectors: [simulationConnector(), simulationConnector({ id: 'w/simulation-1' })],
      }),
    ).toThrow(/connector id w\/simulation-1 is used twice/);
  });

  it('exposes its connector actors, which tests can record', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    const worker = await testWorker(hub, { id: 'w' });
    const [connectorId, actor] = [...worker.connectors][0]!;
    await recording.waitFor(connectorId, 'idle');
    const states = recordActor(actor);
    const job = await submit(hub, { type: 'simulation', payload: { durationMs: 5, steps: 1 } });
    await recording.waitFor(job.id, 'completed');
    await recording.waitFor(connectorId, (record) => record.state === 'idle' && context(record).jobsDone === 1);
    states.expect('idle > active > idle');
    states.stop();
  });
});

describe('a worker the hub refuses', () => {
  it('rejects ready() when its id is already used by a job', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    const job = await submit(hub, { type: 'simulation' });
    const worker = createWorker({ hub: hub.url, id: job.id, machineId: 'm', connectors: [simulationConnector({ startupMs: 1 })] });
    onTestFinished(() => worker.stop());

    await expect(worker.ready()).rejects.toThrow(`hub refused worker ${job.id}: id ${job.id} is already used by a job`);
    expect(recording.records(job.id).every((record) => record.kind === 'job')).toBe(true);
    const answer = await api(hub, 'GET', `/api/jobs/${job.id}`);
    expect(answer.body).toMatchObject({ kind: 'job', state: 'pending' });
    expect(recording.ids('worker')).toEqual([]);
    expect(recording.ids('machine')).toEqual([]);
  });

  it('rejects ready() when a connector id repeats its worker id', async () => {
    const hub = await testHub();
    const worker = createWorker({ hub: hub.url, id: 'same', machineId: 'm', connectors: [simulationConnector({ id: 'same', startupMs: 1 })] });
    onTestFinished(() => worker.stop());
    await expect(worker.ready()).rejects.toThrow(/hub refused worker same: connector id same is used twice/);
  });

  it('rejects ready() when a connector id belongs to another online worker', async () => {
    const hub = await testHub();
    await testWorker(hub, { id: 'first', connectors: [simulationConnector({ id: 'shared-connector', startupMs: 1 })] });
    const second = createWorker({ hub: hub.url, id: 'second', machineId: 'm', connectors: [simulationConnector({ id: 'shared-connector', startupMs: 1 })] });
    onTestFinished(() => second.stop());
    await expect(second.ready()).rejects.toThrow(/connector shared-connector belongs to worker first, which is online/);
  });
});

describe('a worker on a hub with tokens', () => {
  const tokens = { 'w-token': 'worker', 'c-token': 'client', 'm-token': 'monitor' } as const;

  it('is refused without a valid worker token, and runs jobs with one', async () => {
    const hub = await testHub({ tokens });
    const start = (token: string | undefined, id: string) => {
      const worker = createWorker({ hub: hub.url, id, machineId: 'm', ...(token ? { token } : {}), connectors: [simulationConnector({ startupMs: 1 })] });
      onTestFinished(() => worker.stop());
      return worker;
    };
    await expect(start(undefined, 'no-token').ready()).rejects.toThrow(/hub refused worker no-token: a token is required/);
    await expect(start('nonsense', 'bad-token').ready()).rejects.toThrow(/hub refused worker bad-token: unknown token/);
    await expect(start('m-token', 'monitor-token').ready()).rejects.toThrow(/hub refused worker monitor-token: role monitor may not work/);

    await start('w-token', 'allowed').ready();
    const client = { authorization: 'Bearer c-token' };
    const job = (await api(hub, 'POST', '/api/jobs', { type: 'simulation', payload: { durationMs: 1, steps: 1 } }, client)).body;
    await expect
      .poll(async () => (await api(hub, 'GET', `/api/jobs/${job.id}`, undefined, client)).body.state, { timeout: 10_000, interval: 20 })
      .toBe('completed');
    const done = (await api(hub, 'GET', `/api/jobs/${job.id}`, undefined, client)).body;
    expect(done.snapshot.context.workerId).toBe('allowed');
  });
});

describe('a worker and its hub going away', () => {
  it('reconnects by itself when the hub restarts on the same port, and runs new jobs', async () => {
    const first = await startHub({ port: 0, logger: false, timings: FAST_TIMINGS });
    let firstOpen = true;
    onTestFinished(async () => {
      if (firstOpen) await first.close();
    });
    const port = first.port;
    const worker = await testWorker(first, { id: 'phoenix', machineId: 'm' });
    const before = await testRecording(first);
    const job = await submit(first, { type: 'simulation', payload: { durationMs: 1, steps: 1 } });
    await before.waitFor(job.id, 'completed');
    before.close();

    await first.close();
    firstOpen = false;
    const second = await testHub({ port });
    expect(second.port).toBe(port);
    const recording = await testRecording(second);
    await recording.waitFor('phoenix', 'ready', { timeoutMs: 15_000 });
    const connectorId = [...worker.connectors.keys()][0]!;
    await recording.waitFor(connectorId, 'idle');

    const next = await submit(second, { type: 'simulation', payload: { durationMs: 1, steps: 1 } });
    const done = await recording.waitFor(next.id, 'completed');
    expect(context(done)).toMatchObject({ workerId: 'phoenix', connectorId });
  });

  it('stop() aborts the running job, and the hub retries it on another worker', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    const connector = controlledConnector({ id: 'leaving-ctl' });
    const leaving = await testWorker(hub, { id: 'leaving', connectors: [connector.implementation] });
    const job = await submit(hub, { type: 'controlled', payload: { hold: true } });
    await connector.started(job.id);
    await recording.waitFor(job.id, 'running');

    const other = controlledConnector({ id: 'staying-ctl' });
    await testWorker(hub, { id: 'staying', connectors: [other.implementation] });
    await leaving.stop();
    await connector.aborted(job.id);

    // The held job goes back to pending; on its second attempt it holds again, now on the other worker.
    const run = await other.started(job.id);
    expect(run).toMatchObject({ id: job.id, attempt: 2 });
    await recording.waitFor(job.id, (record) => record.state === 'running' && context(record).workerId === 'staying');
    recording.expect(job.id, 'pending > assigned > running > pending > assigned > running');
    recording.expect('leaving-ctl', 'starting > idle > active > stopped');
    recording.expect('leaving', 'ready > busy > offline');
  });

  it('drain() finishes the running job, takes no new one, then goes offline', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    const worker = await testWorker(hub, { id: 'drainer', connectors: [simulationConnector({ id: 'drain-sim', startupMs: 1 })] });
    const job = await submit(hub, { type: 'simulation', payload: { durationMs: 200, steps: 2 } });
    await recording.waitFor(job.id, 'running');

    const drained = worker.drain();
    await recording.waitFor('drainer', 'draining');
    const queued = await submit(hub, { type: 'simulation', payload: { durationMs: 1, steps: 1 } });
    await drained;

    await recording.waitFor('drainer', 'offline');
    expect(context(await recording.waitFor(job.id, 'completed')).workerId).toBe('drainer');
    recording.expect('drainer', 'ready > busy > draining > offline');
    expect((await api(hub, 'GET', `/api/jobs/${queued.id}`)).body.state).toBe('pending');
    expect(recording.states(queued.id)).toEqual(['pending']);
  });
});
