/**
 * The monitor's model against recorded streams: what a real hub sent a monitor, replayed into
 * the model, must give the counts, machines and job lists the snapshot gives, and the
 * connection state must say live, reconnecting or resynced as it happened.
 */
import { io } from 'socket.io-client';
import { describe, expect, it, onTestFinished } from 'vitest';
import { View } from '../../src/client/view.js';
import type { ConnectionState } from '../../src/client/monitor.js';
import type { LogEntry, Snapshot } from '../../src/protocol/record.js';
import { HubModel, JOB_STATES, type MonitorSource } from '../../ui/src/model.js';
import { api, snapshot, submit, testHub, testRecording, testWorker } from '../helpers/hub.js';

type Recorded = { event: 'snapshot'; data: Snapshot } | { event: 'transitions'; data: LogEntry[] } | { event: 'synced'; data: { via: 'snapshot' | 'replay' } };

/** Everything a monitor connection received, in order, until `until` resolves. */
async function record(url: string, until: () => Promise<void>, since?: string): Promise<Recorded[]> {
  const socket = io(`${url}/monitor`, { transports: ['websocket'], forceNew: true, auth: since ? { since } : {} });
  onTestFinished(() => void socket.close());
  const events: Recorded[] = [];
  socket.onAny((event: string, data: unknown) => events.push({ event, data } as Recorded));
  await new Promise((resolve) => socket.once('synced', resolve));
  await until();
  // Stop only once this connection has everything the hub holds now.
  const target = (await snapshot(url)).offset;
  const reached = () =>
    events.some((item) => (item.event === 'snapshot' && item.data.offset === target) || (item.event === 'transitions' && item.data.some((entry) => entry.offset === target)));
  await expect.poll(reached, { timeout: 10_000 }).toBe(true);
  socket.close();
  return events;
}

/** Plays recordings into a model the way a Monitor would, connection by connection. */
class Replay implements MonitorSource {
  readonly view = new View();
  state: ConnectionState = 'connecting';
  lastSync: 'snapshot' | 'replay' | undefined;
  readonly refusal = undefined;
  private readonly listeners = new Set<(state: ConnectionState) => void>();

  onState(listener: (state: ConnectionState) => void) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  connection(events: Recorded[]): void {
    for (const { event, data } of events) {
      if (event === 'snapshot') this.view.applySnapshot(data);
      else if (event === 'transitions') this.view.applyTransitions(data);
      else {
        this.lastSync = data.via;
        this.set('live');
      }
    }
  }

  drop(): void {
    this.set('reconnecting');
  }

  private set(state: ConnectionState): void {
    this.state = state;
    for (const listener of this.listeners) listener(state);
  }
}

async function busyHub() {
  const hub = await testHub();
  const recording = await testRecording(hub);
  return { hub, recording };
}

describe('HubModel on recorded streams', () => {
  it('gives the snapshot\'s job counts, machines and job lists after replaying a whole session', async () => {
    const { hub, recording } = await busyHub();
    const events = await record(hub.url, async () => {
      await testWorker(hub, { id: 'w1', machineId: 'm1', simulations: 2 });
      await testWorker(hub, { id: 'w2', machineId: 'm2' });
      const jobs = await Promise.all([
        submit(hub, { type: 'simulation', payload: { durationMs: 10 } }),
        submit(hub, { type: 'simulation', maxAttempts: 1, payload: { durationMs: 10, failTimes: 1 } }),
        submit(hub, { type: 'simulation', priority: 5, payload: { durationMs: 10 } }),
        submit(hub, { type: 'nobody-serves-this' }),
      ]);
      for (const job of jobs.slice(0, 3)) await recording.waitFor(job.id, (record) => ['completed', 'failed'].includes(record.state));
      await recording.caughtUp(await snapshot(hub));
    });
    const current = await snapshot(hub);
    const replay = new Replay();
    const model = new HubModel(replay);
    replay.connection(events);

    expect(model.connection).toBe('live');
    const counts = Object.fromEntries(JOB_STATES.map((state) => [state, current.records.filter((r) => r.kind === 'job' && r.state === state).length]));
    expect(model.jobCounts()).toEqual(counts);
    expect(model.machines().map((group) => [group.id, group.machine?.state, group.workers.map(({ worker, connectors }) => [worker.id, connectors.map((c) => `${c.id}:${c.state}`)])])).toEqual([
      ['m1', 'ready', [['w1', ['w1/simulation-1:idle', 'w1/simulation-2:idle']]]],
      ['m2', 'ready', [['w2', ['w2/simulation-1:idle']]]],
    ]);
    expect(model.jobs({ states: ['failed'] }).map((job) => job.state)).toEqual(['failed']);
    expect(model.jobs({ type: 'nobody-serves-this' }).map((job) => job.state)).toEqual(['pending']);
    expect(model.jobs({ sort: 'priority' })[0]?.snapshot.context.priority).toBe(5);
    expect(model.jobTypes()).toEqual(['nobody-serves-this', 'simulation']);
    const search = current.records.find((r) => r.kind === 'job')!.id.slice(-8).toUpperCase();
    expect(model.jobs({ search }).map((job) => job.id.slice(-8).toUpperCase())).toEqual([search]);
  });

  it('lists the webhooks, whose changes are a topic of their own', async () => {
    const { hub } = await busyHub();
    let id = '';
    const events = await record(hub.url, async () => {
      const answer = await api(hub, 'POST', '/api/webhooks', { url: 'http://127.0.0.1:9/nobody-listens', secret: 'a-secret-of-some-length', description: 'audit' });
      id = answer.body.id;
    });
    const replay = new Replay();
    const model = new HubModel(replay);
    const topics = new Set<string>();
    model.subscribe((changed) => changed.forEach((topic) => topics.add(topic)));
    replay.connection(events);
    expect(model.webhooks().map((record) => [record.id, record.snapshot.context.description])).toEqual([[id, 'audit']]);
    expect(model.probes()).toEqual([]);
    expect(topics.has('webhooks')).toBe(true);
  });

  it('says reconnecting after a drop, live after a replay, and resynced after a fresh snapshot', async () => {
    const { hub } = await busyHub();
    await testWorker(hub, { id: 'w1', machineId: 'm1' });
    const first = await record(hub.url, async () => {});
    const replay = new Replay();
    const model = new HubModel(replay);
    const seen: string[] = [];
    model.subscribe((topics) => topics.has('connection') && seen.push(model.connection));
    replay.connection(first);

    replay.drop();
    const job = await submit(hub, { type: 'simulation', payload: { durationMs: 5 } });
    const resumed = await record(hub.url, async () => {}, replay.view.offset);
    expect(resumed.find((item) => item.event === 'snapshot')).toBeUndefined();
    replay.connection(resumed);
    expect(model.jobs().map((j) => j.id)).toContain(job.id);

    replay.drop();
    const fresh = await record(hub.url, async () => {}, 'an-offset-the-hub-does-not-hold');
    replay.connection(fresh);
    expect(seen).toEqual(['live', 'reconnecting', 'live', 'reconnecting', 'resynced']);
    expect(model.jobCounts().pending + model.jobCounts().running + model.jobCounts().completed + model.jobCounts().assigned).toBe(1);
  });

  it('counts each job once whatever it goes through, and forgets removed ones', async () => {
    const hub = await testHub({ retention: { keepFinishedMs: 0, maxFinished: 0 } });
    const recording = await testRecording(hub);
    const events = await record(hub.url, async () => {
      await testWorker(hub);
      const job = await submit(hub, { type: 'simulation', backoffMs: 5, payload: { durationMs: 5, failTimes: 1 } });
      await recording.waitFor(job.id, (record) => record.removed === true || record.state === 'completed');
      await recording.until(() => !recording.view.has(job.id), 'the job to leave the live set');
    });
    const replay = new Replay();
    const model = new HubModel(replay);
    replay.connection(events);
    expect(Object.values(model.jobCounts()).reduce((a, b) => a + b, 0)).toBe(0);
    expect(model.jobTotal).toBe(0);
  });
});
