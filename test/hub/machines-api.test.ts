/** GET /api/machines(/:kind): the definitions that run, and the version every record carries. */
import { describe, expect, it } from 'vitest';
import { connectorMachine } from 'statehub/machines';
import { api, snapshot, submit, testHub, testRecording, testWorker } from '../helpers/hub.js';
import { RawWorker, idleSnapshot } from '../helpers/raw-worker.js';
import { describeMachine, definitionVersion } from '../../src/protocol/definition.js';

describe('GET /api/machines', () => {
  it('lists the machine of each kind the hub runs, with its version', async () => {
    const hub = await testHub();
    const { status, body } = await api(hub, 'GET', '/api/machines');
    expect(status).toBe(200);
    expect(body.machines.map((machine: any) => machine.kind).sort()).toEqual(['connector', 'job', 'machine', 'probe', 'webhook', 'worker']);
    for (const machine of body.machines) expect(machine.version).toMatch(/^[0-9a-f]{16}$/);
  });

  it('serves a definition with nesting, events, guards and delays', async () => {
    const hub = await testHub();
    const { status, body } = await api(hub, 'GET', '/api/machines/job');
    expect(status).toBe(200);
    expect(body).toMatchObject({ kind: 'job', id: 'job', root: { id: 'job', type: 'compound', initial: 'pending' } });
    const states = new Map<string, any>(body.root.states.map((state: any) => [state.key, state]));
    expect([...states.keys()]).toEqual(expect.arrayContaining(['pending', 'assigned', 'running', 'retrying', 'completed', 'failed', 'cancelled']));
    expect(states.get('completed').type).toBe('final');
    expect(states.get('pending').transitions).toContainEqual(expect.objectContaining({ event: 'ASSIGN', label: 'ASSIGN', targets: ['job.assigned'] }));
    expect(states.get('running').transitions).toContainEqual(expect.objectContaining({ label: 'after jobTimeout', delay: 'jobTimeout' }));
    expect(states.get('running').transitions).toContainEqual(expect.objectContaining({ event: 'FAIL', guard: 'isPermanent', targets: ['job.failed'] }));

    const connector = (await api(hub, 'GET', '/api/machines/connector')).body;
    const idle = connector.root.states.find((state: any) => state.key === 'idle');
    expect(idle).toMatchObject({ type: 'compound', initial: 'ready' });
    expect(idle.states.map((state: any) => state.id)).toEqual(['connector.idle.ready', 'connector.idle.checking']);
    const starting = connector.root.states.find((state: any) => state.key === 'starting');
    expect(starting.invoke).toEqual(['checkHealth']);
    expect(starting.transitions.map((transition: any) => transition.label)).toEqual(['done: checkHealth', 'error: checkHealth']);
  });

  it('says which version it runs when asked for another, and refuses kinds it does not know', async () => {
    const hub = await testHub();
    const { body: job } = await api(hub, 'GET', '/api/machines/job');
    expect((await api(hub, 'GET', `/api/machines/job?version=${job.version}`)).status).toBe(200);
    const other = await api(hub, 'GET', '/api/machines/job?version=0123456789abcdef');
    expect(other.status).toBe(404);
    expect(other.body.error.details).toEqual({ version: job.version });
    const unknown = await api(hub, 'GET', '/api/machines/robot');
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.message).toMatch(/kind/);
  });

  it('stamps every record with the version of the definition that made it, the worker-run connectors included', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    await testWorker(hub, { id: 'w1', machineId: 'm1' });
    const job = await submit(hub, { type: 'simulation', payload: { durationMs: 5 } });
    await recording.waitFor(job.id, 'completed');
    const versions = Object.fromEntries((await api(hub, 'GET', '/api/machines')).body.machines.map((machine: any) => [machine.kind, machine.version]));
    const { records } = await snapshot(hub);
    expect(new Set(records.map((record) => record.kind))).toEqual(new Set(['job', 'worker', 'machine', 'connector']));
    for (const record of records) expect(record.version, `${record.kind} ${record.id}`).toBe(versions[record.kind]);
    for (const record of recording.records(job.id)) expect(record.version).toBe(versions.job);
  });

  it('serves the connector machine a worker of another build declared, under its version, and refuses a definition filed under a version not its own', async () => {
    const hub = await testHub();
    // Another build's connector machine: one more state under idle.
    const ours = describeMachine(connectorMachine);
    const root = structuredClone(ours.root);
    root.states.find((state) => state.key === 'idle')!.states.push({ id: 'connector.idle.warming', key: 'warming', type: 'atomic', invoke: [], transitions: [], states: [] });
    const theirs = { id: ours.id, version: definitionVersion(ours.id, root), root };
    const snapshot = await idleSnapshot('w9/llm-1', 'llm');
    const registration = { workerId: 'w9', machineId: 'm9', connectors: [{ id: 'w9/llm-1', type: 'llm', snapshot, version: theirs.version }] };

    const forged = await RawWorker.connect(hub.url);
    const refused = await forged.call('register', [{ ...registration, connectorMachine: { ...theirs, version: ours.version } }]);
    expect(refused.error).toMatchObject({ code: 'bad_request', message: expect.stringMatching(/version is not the hash of its content/) });
    forged.close();
    expect((await api(hub, 'GET', `/api/machines/connector?version=${theirs.version}`)).status).toBe(404);

    const raw = await RawWorker.connect(hub.url);
    await raw.register({ ...registration, connectorMachine: theirs });
    const served = await api(hub, 'GET', `/api/machines/connector?version=${theirs.version}`);
    expect(served.status).toBe(200);
    expect(served.body).toEqual({ kind: 'connector', ...theirs });
    expect((await api(hub, 'GET', '/api/machines/connector')).body.version).toBe(ours.version);
    expect((await api(hub, 'GET', `/api/actors/${encodeURIComponent('w9/llm-1')}`)).body.version).toBe(theirs.version);
    raw.close();
  });
});
