import { createServer } from 'node:net';
import pino from 'pino';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { StatelyActorEvent, StatelyEventEvent, StatelyInspectionEvent, StatelySnapshotEvent } from '@statelyai/inspect';
import { startHub, type Hub } from 'statehub';
import { connectorMachine, hostMachine, jobMachine, webhookMachine, workerMachine } from 'statehub/machines';
import { Feed } from '../../src/hub/feed.js';
import { StatelyRelay, type StatelyRelayOptions } from '../../src/hub/stately-relay.js';
import { createStatelyInspector } from '../../src/stately-inspector.js';
import { Conditions } from '../helpers/conditions.js';
import { about, inspectorReceiver, type InspectorReceiver } from '../helpers/inspector-receiver.js';
import { api, submit, testHub, testRecording, testWorker } from '../helpers/hub.js';

const QUICK_JOB = { type: 'simulation', payload: { durationMs: 60, steps: 3 } };

const isActor = (message: StatelyInspectionEvent): message is StatelyActorEvent => message.type === '@xstate.actor';
const isEvent = (message: StatelyInspectionEvent): message is StatelyEventEvent => message.type === '@xstate.event';
const isSnapshot = (message: StatelyInspectionEvent): message is StatelySnapshotEvent => message.type === '@xstate.snapshot';

/** The actor message about `sessionId`, once it came. */
function announced(receiver: InspectorReceiver, sessionId: string): Promise<void> {
  return receiver.until(() => about(receiver.messages, sessionId).some(isActor), `an @xstate.actor message for ${sessionId}`);
}

function finished(receiver: InspectorReceiver, sessionId: string): Promise<void> {
  return receiver.until(() => about(receiver.messages, sessionId).some((message) => isSnapshot(message) && message.snapshot.status === 'done'), `${sessionId} to be done`);
}

/** A port nobody listens on: connections to it are refused. */
async function refusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A pino logger keeping its lines, with a way to wait for one. */
function keptLog() {
  const lines: string[] = [];
  const conditions = new Conditions();
  const logger = pino({ level: 'info' }, { write: (line: string) => (lines.push(line), conditions.notify()) });
  return {
    lines,
    logger,
    until: (pattern: RegExp) => conditions.until(() => lines.some((line) => pattern.test(line)), `a log line matching ${pattern}`, { timeoutMs: 15_000, got: () => lines.join('') }),
  };
}

describe("the hub's relay to Stately's inspector", () => {
  it("sends a job's whole life: its actor with the definition, then one event and one snapshot per record, in seq order", async () => {
    const receiver = await inspectorReceiver();
    const hub = await testHub({ inspect: receiver.url });
    const worker = await testWorker(hub);
    const [connectorId] = [...worker.connectors.keys()] as [string];
    // The relay follows the log once it told the inspector about what lives (the connector included).
    await announced(receiver, connectorId);

    const job = await submit(hub, QUICK_JOB);
    await finished(receiver, job.id);
    const history = await hub.store.history(job.id);
    const [actor, ...changes] = about(receiver.messages, job.id);

    expect(actor).toMatchObject({ type: '@xstate.actor', name: 'job', snapshot: { status: 'active', value: 'pending', context: { type: 'simulation', attempts: 0 } } });
    expect(actor).not.toHaveProperty('parentId');
    expect(JSON.parse((actor as StatelyActorEvent).definition ?? '')).toMatchObject({
      id: 'job',
      initial: 'pending',
      states: { pending: { on: { ASSIGN: { target: 'assigned' } } }, running: { on: { COMPLETE: { target: 'completed' } } }, completed: { type: 'final' } },
    });
    expect(history.map((entry) => entry.record.seq)).toEqual(history.map((_, index) => index + 1));
    expect(changes.map((message) => message.type)).toEqual(history.flatMap(() => ['@xstate.event', '@xstate.snapshot']));
    const events = changes.filter(isEvent);
    const snapshots = changes.filter(isSnapshot);
    // Record k (seq k) is the k-th event and the k-th snapshot: the event that caused it and its snapshot.
    expect(events.map((message) => message.event)).toEqual(history.map((entry) => entry.event));
    expect(snapshots.map((message) => message.event)).toEqual(history.map((entry) => entry.event));
    expect(snapshots.map((message) => message.snapshot)).toEqual(history.map((entry) => JSON.parse(JSON.stringify(entry.record.snapshot))));
    // Progress reports come between START and COMPLETE, as many as the worker coalesced.
    expect(events.map((message) => message.event.type).filter((type) => type !== 'PROGRESS')).toEqual(['xstate.init', 'ASSIGN', 'START', 'COMPLETE']);
    expect(collapse(snapshots.map((message) => String(valueOf(message))))).toEqual(['pending', 'assigned', 'running', 'completed']);
    expect(snapshots.at(-1)?.snapshot).toMatchObject({ status: 'done', context: { progress: 100, connectorId } });
  });

  it('says who belongs to whom: connector -> worker -> machine, each with its own definition', async () => {
    const receiver = await inspectorReceiver();
    const hub = await testHub({ inspect: receiver.url });
    const worker = await testWorker(hub);
    const [connectorId] = [...worker.connectors.keys()] as [string];
    await announced(receiver, connectorId);

    const actorOf = (id: string) => about(receiver.messages, id).find(isActor);
    expect(actorOf(worker.machineId)).toMatchObject({ name: 'machine' });
    expect(actorOf(worker.machineId)).not.toHaveProperty('parentId');
    expect(actorOf(worker.id)).toMatchObject({ name: 'worker', parentId: worker.machineId, rootId: worker.machineId });
    expect(actorOf(connectorId)).toMatchObject({ name: 'connector', parentId: worker.id, rootId: worker.machineId });
    expect(JSON.parse(actorOf(connectorId)?.definition ?? '')).toMatchObject({ id: 'connector', initial: 'starting' });
    expect(JSON.parse(actorOf(worker.id)?.definition ?? '')).toMatchObject({ id: 'worker', initial: 'ready' });
  });

  it('tells an inspector that connects later every live actor with the snapshot the store holds, not its initial one, and tells it again after a reconnection', async () => {
    const hub = await testHub();
    const worker = await testWorker(hub);
    const recording = await testRecording(hub);
    const done = await submit(hub, QUICK_JOB);
    const completed = await recording.waitFor(done.id, 'completed');

    const receiver = await inspectorReceiver();
    const relay = relayOf(hub, receiver.url);
    await announced(receiver, done.id);
    const [told] = about(receiver.messages, done.id) as [StatelyActorEvent];
    expect(told.snapshot).toEqual(JSON.parse(JSON.stringify(completed.snapshot)));
    expect(told.snapshot).toMatchObject({ status: 'done', value: 'completed' });
    for (const id of [worker.machineId, worker.id, ...worker.connectors.keys()]) expect(about(receiver.messages, id).filter(isActor)).toHaveLength(1);

    // The inspector goes away and comes back: it knows nothing, and is told everything again.
    for (const socket of receiver.sockets) socket.terminate();
    await receiver.until(() => receiver.connections === 2 && about(receiver.messages, done.id).filter(isActor).length === 2, 'the job announced again');
    const next = await submit(hub, QUICK_JOB);
    await finished(receiver, next.id);
    expect(about(receiver.messages, next.id)[0]).toMatchObject({ type: '@xstate.actor', snapshot: { value: 'pending' } });
    expect(relay.dropped).toBe(0);
  });

  it('tells a new connection its unfinished jobs first, up to a bound, and any other job when it changes', async () => {
    const hub = await testHub();
    const jobs: Array<{ id: string }> = [];
    for (let i = 0; i < 5; i++) jobs.push(await submit(hub, QUICK_JOB));
    const [cancelled, alsoCancelled, ...pending] = jobs as [{ id: string }, { id: string }, ...Array<{ id: string }>];
    for (const job of [cancelled, alsoCancelled]) expect((await api(hub, 'POST', `/api/jobs/${job.id}/cancel`)).status).toBe(200);

    const receiver = await inspectorReceiver();
    relayOf(hub, receiver.url, { maxJobsOnConnect: 2 });
    const toldJobs = () => receiver.messages.filter(isActor).filter((message) => message.name === 'job').map((message) => message.sessionId);
    await receiver.until(() => toldJobs().length === 2, 'two jobs told');
    const untold = pending.filter((job) => !toldJobs().includes(job.id));
    expect(untold).toHaveLength(1);
    expect(toldJobs()).not.toContain(cancelled.id);
    expect(toldJobs()).not.toContain(alsoCancelled.id);

    const [{ id }] = untold as [{ id: string }];
    await api(hub, 'POST', `/api/jobs/${id}/cancel`);
    await receiver.until(() => about(receiver.messages, id).length === 3, 'the cancelled job told');
    expect(about(receiver.messages, id).map((message) => message.type)).toEqual(['@xstate.actor', '@xstate.event', '@xstate.snapshot']);
    expect(about(receiver.messages, id).find(isEvent)?.event).toMatchObject({ type: 'CANCEL' });
    expect(toldJobs()).toHaveLength(3);
  });

  it('runs jobs as usual when the inspector refuses connections, and says so once', async () => {
    const log = keptLog();
    const hub = await testHub({ inspect: `ws://127.0.0.1:${await refusedPort()}`, logger: log.logger });
    await testWorker(hub);
    const recording = await testRecording(hub);
    await log.until(/Stately inspector at ws:\/\/127\.0\.0\.1:\d+\/ is not reachable/);
    const jobs = await Promise.all([submit(hub, QUICK_JOB), submit(hub, QUICK_JOB)]);
    for (const job of jobs) await recording.waitFor(job.id, 'completed');
    expect(log.lines.filter((line) => /Stately inspector/.test(line))).toHaveLength(1);
  });

  it('refuses an inspector URL that is not ws:// or wss:// before starting', async () => {
    await expect(startHub({ port: 0, logger: false, inspect: 'http://localhost:8080' })).rejects.toThrow(/"http:\/\/localhost:8080" is not a ws:\/\/ or wss:\/\/ URL/);
    await expect(startHub({ port: 0, logger: false, inspect: 'localhost:8080' })).rejects.toThrow(/is not a ws:\/\/ or wss:\/\/ URL/);
    await expect(startHub({ port: 0, logger: false, inspect: 'not a url' })).rejects.toThrow(/"not a url" is not a URL/);
  });
});

describe('the connection to the inspector', () => {
  it('disconnects a receiver that stops reading, counting what it could not send, instead of holding it in memory', async () => {
    const receiver = await inspectorReceiver();
    const warnings: string[] = [];
    let connected!: () => void;
    const open = new Promise<void>((resolve) => (connected = resolve));
    const inspector = createStatelyInspector({
      url: receiver.url,
      log: { info: () => {}, warn: (message) => warnings.push(message) },
      onConnect: () => connected(),
      maxBufferedBytes: 64 * 1024,
      retryMs: 60_000,
    });
    onTestFinished(() => inspector.close());
    inspector.connect();
    await open;
    await receiver.until(() => receiver.sockets.size === 1, 'the connection');
    receiver.pauseReading();

    const blob = 'x'.repeat(64 * 1024);
    // The kernel's socket buffers take a few MB before anything stays unsent here.
    for (let sent = 0; inspector.dropped === 0 && sent < 2_000; sent++) {
      inspector.snapshot('busy', { status: 'active', context: { blob } });
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(inspector.dropped).toBeGreaterThan(0);
    expect(inspector.connected).toBe(false);
    inspector.snapshot('busy', { status: 'active', context: { blob } });
    expect(warnings).toEqual([expect.stringMatching(/reads too slowly \(\d+ bytes unsent\): disconnected/)]);
  });
});

/** A relay of `hub`'s log to `url`, as `inspect` starts one, retrying quickly. */
function relayOf(hub: Hub, url: string, options: Partial<StatelyRelayOptions> = {}): StatelyRelay {
  const feed = new Feed(hub.store);
  const byKind = { job: jobMachine, connector: connectorMachine, worker: workerMachine, machine: hostMachine, webhook: webhookMachine } as const;
  const relay = new StatelyRelay({
    url,
    feed,
    machineOf: (kind) => (kind === 'probe' ? undefined : byKind[kind]),
    log: { info: () => {}, warn: () => {} },
    onError: (error) => {
      throw error;
    },
    retryMs: 50,
    ...options,
  });
  onTestFinished(() => {
    relay.close();
    feed.close();
  });
  return relay;
}

function valueOf(message: StatelySnapshotEvent): unknown {
  return (message.snapshot as { value?: unknown }).value;
}

function collapse(values: readonly string[]): string[] {
  return values.filter((value, index) => index === 0 || values[index - 1] !== value);
}
