import { describe, expect, it } from 'vitest';
import { MemoryStore, View, type Hub, type LogEntry, type Snapshot } from 'statehub';
import { api, byId, snapshot, submit, testHub, testRecording, testWorker } from '../helpers/hub.js';
import { MonitorClient, connectMonitor, refusedConnection } from '../helpers/streams.js';

/** Every entry a raw client got in `transitions` batches, in arrival order. */
function entriesOf(client: MonitorClient): LogEntry[] {
  return client.all<LogEntry[]>('transitions').flat();
}

/** What a raw client holds: its snapshot(s) and transitions, applied in arrival order to a view. */
function viewOf(client: MonitorClient, start?: View): View {
  const view = start ?? new View();
  for (const { event, args } of client.received) {
    if (event === 'snapshot') view.applySnapshot(args[0] as Snapshot);
    else if (event === 'transitions') view.applyTransitions(args[0] as LogEntry[]);
  }
  return view;
}

function expectIncreasing(hub: Hub, offsets: string[]): void {
  for (let index = 1; index < offsets.length; index += 1) {
    expect(hub.store.compareOffsets(offsets[index - 1]!, offsets[index]!), `${offsets[index - 1]} before ${offsets[index]}`).toBeLessThan(0);
  }
}

async function expectSameAsHub(hub: Hub, view: View, query = ''): Promise<void> {
  const current = await snapshot(hub, query);
  expect(view.problems).toEqual([]);
  expect(byId(view.records.values())).toEqual(byId(current.records));
}

/** Three jobs, one cancelled: four changes. */
async function someChanges(hub: Hub, tag: string): Promise<string[]> {
  const a = await submit(hub, { type: 'unserved', payload: `${tag}-a` });
  const { body } = await api(hub, 'POST', '/api/jobs/batch', { jobs: [{ type: 'unserved', payload: `${tag}-b` }, { type: 'other', payload: `${tag}-c` }] });
  await api(hub, 'POST', `/api/jobs/${a.id}/cancel`);
  return [a.id, ...body.records.map((record: { id: string }) => record.id)];
}

/** Runs `count` simulation jobs to completion on whatever workers the hub has. */
async function runJobs(hub: Hub, count: number, watch: { waitFor(id: string, state: string): Promise<unknown> }): Promise<string[]> {
  const { body } = await api(hub, 'POST', '/api/jobs/batch', {
    jobs: Array.from({ length: count }, (_, index) => ({ type: 'simulation', payload: { durationMs: 5 + index, steps: 2 } })),
  });
  const ids = body.records.map((record: { id: string }) => record.id) as string[];
  for (const id of ids) await watch.waitFor(id, 'completed');
  return ids;
}

describe('Socket.IO /monitor: joining', () => {
  it('sends snapshot { offset, records } then synced', async () => {
    const hub = await testHub();
    await someChanges(hub, 'before');
    const current = await snapshot(hub);

    const client = await connectMonitor(hub);
    expect(client.names()).toEqual(['snapshot', 'synced']);
    const [first] = client.all<Snapshot>('snapshot');
    expect(Object.keys(first!).sort()).toEqual(['offset', 'records']);
    expect(typeof first!.offset).toBe('string');
    expect(first!.offset).toBe(current.offset);
    expect(byId(first!.records)).toEqual(byId(current.records));
    expect(await client.synced()).toEqual({ offset: current.offset, via: 'snapshot', time: expect.any(Number) });
  });

  it('sends an empty snapshot for an empty hub', async () => {
    const hub = await testHub();
    const client = await connectMonitor(hub);
    expect(client.all<Snapshot>('snapshot')).toEqual([{ offset: (await snapshot(hub)).offset, records: [] }]);
  });

  it('then sends live transitions: arrays of { offset, record } in offset order, ending equal to the snapshot', async () => {
    const hub = await testHub();
    const client = await connectMonitor(hub);
    const recording = await testRecording(hub);
    await testWorker(hub, { id: 'live-worker', simulations: 2 });
    const jobs = await runJobs(hub, 4, recording);
    await someChanges(hub, 'after');
    const current = await snapshot(hub);
    await client.reached(current.offset);

    const batches = client.all<LogEntry[]>('transitions');
    expect(batches.length).toBeGreaterThan(0);
    for (const batch of batches) {
      expect(Array.isArray(batch)).toBe(true);
      expect(batch.length).toBeGreaterThan(0);
      for (const entry of batch) expect(Object.keys(entry).sort()).toEqual(['offset', 'record']);
    }
    const entries = entriesOf(client);
    expectIncreasing(hub, [client.all<Snapshot>('snapshot')[0]!.offset, ...entries.map((entry) => entry.offset)]);
    expect(entries.at(-1)!.offset).toBe(current.offset);
    const view = viewOf(client);
    await expectSameAsHub(hub, view);
    for (const id of jobs) {
      expect(entries.filter((entry) => entry.record.id === id).map((entry) => entry.record)).toEqual(recording.records(id));
      recording.expect(id, 'pending > assigned > running > completed');
    }
  });
});

describe('Socket.IO /monitor: resuming with since', () => {
  it('replays only what was missed: no snapshot, no duplicates, no gaps, and the view equals the snapshot', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    await testWorker(hub, { id: 'resume-worker' });
    await runJobs(hub, 2, recording);

    const first = await connectMonitor(hub);
    await someChanges(hub, 'seen');
    const seen = await snapshot(hub);
    await first.reached(seen.offset);
    first.close();
    const held = viewOf(first);
    expect(held.offset).toBe(seen.offset);

    // Changes while it is away: jobs submitted, cancelled, and run through a worker.
    await someChanges(hub, 'missed');
    await runJobs(hub, 2, recording);
    const current = await snapshot(hub);

    const resumed = await connectMonitor(hub, { since: held.offset });
    await resumed.reached(current.offset);
    expect(resumed.all('snapshot')).toEqual([]);
    expect(await resumed.synced()).toEqual({ offset: current.offset, via: 'replay', time: expect.any(Number) });
    expect(resumed.names().indexOf('synced')).toBe(resumed.names().lastIndexOf('transitions') + 1);

    const replayed = entriesOf(resumed);
    expect(replayed.length).toBeGreaterThan(0);
    expect(new Set(replayed.map((entry) => entry.offset)).size).toBe(replayed.length);
    expectIncreasing(hub, [seen.offset, ...replayed.map((entry) => entry.offset)]);
    const seenOffsets = new Set(entriesOf(first).map((entry) => entry.offset));
    expect(replayed.filter((entry) => seenOffsets.has(entry.offset))).toEqual([]);

    const view = viewOf(resumed, held);
    expect(view.offset).toBe(current.offset);
    await expectSameAsHub(hub, view);

    // And it is live again afterwards.
    const late = await submit(hub, { type: 'late' });
    const now = await snapshot(hub);
    await resumed.reached(now.offset);
    expect(entriesOf(resumed).at(-1)).toEqual({ offset: now.offset, record: late });
  });

  it('with since = the current offset sends only synced, then what happens next', async () => {
    const hub = await testHub();
    await someChanges(hub, 'old');
    const { offset } = await snapshot(hub);
    const client = await connectMonitor(hub, { since: offset });
    expect(client.names()).toEqual(['synced']);
    expect(await client.synced()).toEqual({ offset, via: 'replay', time: expect.any(Number) });

    const job = await submit(hub, { type: 'next' });
    const current = await snapshot(hub);
    await client.reached(current.offset);
    expect(entriesOf(client)).toEqual([{ offset: current.offset, record: job }]);
  });

  it('answers an unknown or foreign since with a fresh snapshot', async () => {
    const other = await testHub();
    for (let index = 0; index < 30; index += 1) await submit(other, { type: 'elsewhere' });
    const foreign = (await snapshot(other)).offset;
    const hub = await testHub();
    await someChanges(hub, 'here');
    const current = await snapshot(hub);

    for (const since of ['nonsense', foreign, `${current.offset}9`]) {
      const client = await connectMonitor(hub, { since });
      expect(client.names(), `since=${since}`).toEqual(['snapshot', 'synced']);
      expect(client.all<Snapshot>('snapshot')[0]!.offset).toBe(current.offset);
      expect(byId(client.all<Snapshot>('snapshot')[0]!.records)).toEqual(byId(current.records));
      expect((await client.synced()).via).toBe('snapshot');
      client.close();
    }
  });

  it('replays a long absence (more than one batch) completely and in order', async () => {
    const hub = await testHub();
    const first = await connectMonitor(hub);
    const held = viewOf(first);
    first.close();
    for (let round = 0; round < 2; round += 1) {
      const answer = await api(hub, 'POST', '/api/jobs/batch', { jobs: Array.from({ length: 1000 }, (_, index) => ({ type: 'bulk', payload: index })) });
      expect(answer.status).toBe(201);
    }
    const { body } = await api(hub, 'POST', '/api/jobs/batch', { jobs: Array.from({ length: 500 }, () => ({ type: 'bulk' })) });
    for (const record of body.records.slice(0, 200)) await api(hub, 'POST', `/api/jobs/${record.id}/cancel`);
    const current = await snapshot(hub);

    const resumed = await connectMonitor(hub, { since: held.offset });
    expect(resumed.all('snapshot')).toEqual([]);
    const replayed = entriesOf(resumed);
    expect(replayed).toHaveLength(2700);
    expect(resumed.all('transitions').length).toBeGreaterThan(1);
    expectIncreasing(hub, replayed.map((entry) => entry.offset));
    expect(replayed.at(-1)!.offset).toBe(current.offset);
    const view = viewOf(resumed, held);
    await expectSameAsHub(hub, view);
  });

  it('answers a since older than the log still holds with a fresh snapshot', async () => {
    const store = new MemoryStore({ logLimit: 10 });
    const hub = await testHub({ store });
    const first = await connectMonitor(hub);
    const old = viewOf(first).offset!;
    first.close();
    // Enough changes for the log to drop the oldest ones (it trims in chunks).
    for (let round = 0; round < 3; round += 1) {
      await api(hub, 'POST', '/api/jobs/batch', { jobs: Array.from({ length: 1000 }, () => ({ type: 'bulk' })) });
    }
    const current = await snapshot(hub);

    const client = await connectMonitor(hub, { since: old });
    expect(client.names()).toEqual(['snapshot', 'synced']);
    expect(client.all<Snapshot>('snapshot')[0]!.offset).toBe(current.offset);
    expect(client.all<Snapshot>('snapshot')[0]!.records).toHaveLength(3000);
    expect((await client.synced()).via).toBe('snapshot');
    await expectSameAsHub(hub, viewOf(client));

    // A recent offset is still replayed.
    const recent = await connectMonitor(hub, { since: current.offset });
    expect(recent.names()).toEqual(['synced']);
  });

  it('the statehub Monitor resumes by itself after its connection drops, replaying what it missed', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    await testWorker(hub, { id: 'drop-worker' });
    await runJobs(hub, 1, recording);
    expect(recording.monitor.lastSync).toBe('snapshot');

    const reconnected = new Promise<void>((resolve) => {
      const stop = recording.monitor.onState((state) => {
        if (state === 'reconnecting') {
          stop();
          resolve();
        }
      });
    });
    // Cut the transport under the client, as a network drop would.
    recording.monitor.socket.io.engine.close();
    await reconnected;
    const missed = await someChanges(hub, 'while-away');
    await recording.until(() => recording.monitor.state === 'live', 'the monitor to be live again');
    const current = await snapshot(hub);
    await recording.caughtUp(current);

    expect(recording.monitor.lastSync).toBe('replay');
    expect(byId(recording.view.values())).toEqual(byId(current.records));
    expect(recording.monitor.view.problems).toEqual([]);
    recording.expect(missed[0]!, 'pending > cancelled');
    recording.expect(missed[1]!, 'pending');
  });
});

describe('Socket.IO /monitor: filters', () => {
  it('filter { kinds: ["job"] } delivers only jobs, in the snapshot and live', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    await testWorker(hub, { id: 'filter-worker' });
    const early = await submit(hub, { type: 'unserved' });

    const client = await connectMonitor(hub, { filter: { kinds: ['job'] } });
    expect(client.all<Snapshot>('snapshot')[0]!.records.map((record) => record.id)).toEqual([early.id]);
    expect(client.all<Snapshot>('snapshot')[0]!.offset).toBe((await snapshot(hub)).offset);

    const jobs = await runJobs(hub, 2, recording);
    await client.until(
      () => jobs.every((id) => entriesOf(client).some((entry) => entry.record.id === id && entry.record.state === 'completed')),
      'both jobs completed',
    );
    const entries = entriesOf(client);
    expect(entries.every((entry) => entry.record.kind === 'job')).toBe(true);
    for (const id of jobs) expect(entries.filter((entry) => entry.record.id === id).map((entry) => entry.record)).toEqual(recording.records(id));
    // The connector and worker changed too, and none of that came through.
    expect(recording.ids('connector').length).toBe(1);
    expect(recording.records(recording.ids('connector')[0]!).length).toBeGreaterThan(2);
    expectIncreasing(hub, entries.map((entry) => entry.offset));
    await expectSameAsHub(hub, viewOf(client), '?kinds=job');
  });

  it('filter { kinds: ["worker", "connector"] } delivers only those kinds', async () => {
    const hub = await testHub();
    const client = await connectMonitor(hub, { filter: { kinds: ['worker', 'connector'] } });
    const recording = await testRecording(hub);
    const worker = await testWorker(hub, { id: 'kinds-2', simulations: 2 });
    await runJobs(hub, 2, recording);
    for (const id of worker.connectors.keys()) await recording.waitFor(id, 'idle');
    await client.until(
      () => [...worker.connectors.keys()].every((id) => viewOf(client).records.get(id)?.state === 'idle' && entriesOf(client).filter((entry) => entry.record.id === id).length === recording.records(id).length),
      'every connector change',
    );
    expect(new Set(entriesOf(client).map((entry) => entry.record.kind))).toEqual(new Set(['worker', 'connector']));
    await expectSameAsHub(hub, viewOf(client), '?kinds=worker,connector');
  });

  it('filter { ids } delivers only those actors, in the snapshot, live and in a replay', async () => {
    const hub = await testHub();
    const [a, b, c] = (await someChanges(hub, 'ids')) as [string, string, string];
    const { offset: since } = await snapshot(hub);

    const client = await connectMonitor(hub, { filter: { ids: [b, 'not-there-yet'] } });
    expect(client.all<Snapshot>('snapshot')[0]!.records.map((record) => record.id)).toEqual([b]);

    await api(hub, 'POST', `/api/jobs/${c}/cancel`);
    await submit(hub, { type: 'unwatched' });
    await api(hub, 'POST', `/api/jobs/${b}/cancel`);
    const current = await snapshot(hub);
    await client.reached(current.offset);
    expect(entriesOf(client).map(({ record }) => [record.id, record.seq, record.state])).toEqual([[b, 2, 'cancelled']]);

    const replay = await connectMonitor(hub, { since, filter: { ids: [a, c] } });
    expect(replay.all('snapshot')).toEqual([]);
    expect(entriesOf(replay).map(({ record }) => [record.id, record.seq, record.state])).toEqual([[c, 2, 'cancelled']]);
    expect(await replay.synced()).toEqual({ offset: current.offset, via: 'replay', time: expect.any(Number) });
  });

  it('filter { kinds, ids } together delivers what matches both', async () => {
    const hub = await testHub();
    const worker = await testWorker(hub, { id: 'both-worker' });
    const job = await submit(hub, { type: 'unserved' });
    const client = await connectMonitor(hub, { filter: { kinds: ['job'], ids: [job.id, worker.id] } });
    expect(client.all<Snapshot>('snapshot')[0]!.records.map((record) => record.id)).toEqual([job.id]);
  });
});

describe('Socket.IO /monitor: refusals', () => {
  it.each([
    ['an unknown kind', { filter: { kinds: ['nope'] } }],
    ['a numeric since', { since: 5 }],
    ['an empty since', { since: '' }],
    ['an empty kinds list', { filter: { kinds: [] } }],
    ['an empty ids list', { filter: { ids: [] } }],
    ['an unknown filter field', { filter: { states: ['idle'] } }],
    ['a filter that is not an object', { filter: 'job' }],
    ['a token that is not a string', { token: 42 }],
  ])('refuses a handshake with %s: connect_error with data { code: bad_request, message }', async (_name, auth) => {
    const hub = await testHub();
    await submit(hub, { type: 'existing' });
    const before = await snapshot(hub);
    const refusal = await refusedConnection(hub, '/monitor', auth);
    expect(refusal.data).toEqual(expect.objectContaining({ code: 'bad_request', message: expect.any(String) }));
    expect(refusal.data!.message.length).toBeGreaterThan(0);
    expect(refusal.message).toBe(refusal.data!.message);
    expect(await snapshot(hub)).toEqual(before);
  });

  it('answers garbage events with the error body and changes nothing', async () => {
    const hub = await testHub();
    const job = await submit(hub, { type: 'unserved' });
    const client = await connectMonitor(hub);
    const before = await snapshot(hub);

    // With an ack: the error body comes back through it.
    const acked = await client.socket.timeout(5_000).emitWithAck('whatever', 1);
    expect(acked).toEqual({ error: expect.objectContaining({ code: 'bad_request', message: expect.any(String) }) });
    const cancelAttempt = await client.socket.timeout(5_000).emitWithAck('cancel', { jobId: job.id });
    expect(cancelAttempt).toEqual({ error: expect.objectContaining({ code: 'bad_request' }) });

    // Without one: an `error` event.
    client.socket.emit('whatever', 1);
    client.socket.emit('job:completed', { jobId: job.id, result: 'forged' });
    await client.until(() => client.all('error').length === 2, 'two error events');
    for (const body of client.all('error')) expect(body).toEqual({ error: expect.objectContaining({ code: 'bad_request', message: expect.any(String) }) });

    expect(await snapshot(hub)).toEqual(before);
    expect((await api(hub, 'GET', `/api/jobs/${job.id}`)).body).toEqual(job);
    expect(client.socket.connected).toBe(true);

    // Still a working monitor afterwards.
    const next = await submit(hub, { type: 'next' });
    const current = await snapshot(hub);
    await client.reached(current.offset);
    expect(entriesOf(client)).toEqual([{ offset: current.offset, record: next }]);
  });
});

describe('Socket.IO /monitor: many monitors', () => {
  it('all end with the same view as the hub, however and whenever they joined', async () => {
    const hub = await testHub();
    const early = await Promise.all(Array.from({ length: 8 }, () => testRecording(hub)));
    const rawEarly = await Promise.all(Array.from({ length: 8 }, () => connectMonitor(hub)));
    await testWorker(hub, { id: 'many-a', simulations: 2 });

    const firstJobs = await api(hub, 'POST', '/api/jobs/batch', {
      jobs: Array.from({ length: 10 }, (_, index) => ({ type: 'simulation', payload: { durationMs: 5 + index, steps: 3 } })),
    });
    // More monitors join while those jobs run, some resuming from an offset taken mid-way.
    const { offset: midway } = await snapshot(hub);
    const late = await Promise.all(Array.from({ length: 8 }, () => testRecording(hub)));
    const resumers = await Promise.all(Array.from({ length: 8 }, () => connectMonitor(hub, { since: midway })));
    await testWorker(hub, { id: 'many-b', simulations: 2 });
    await someChanges(hub, 'many');
    const ids = [...firstJobs.body.records.map((record: { id: string }) => record.id), ...(await runJobs(hub, 6, late[0]!))];
    for (const id of ids) await early[0]!.waitFor(id, 'completed');
    const current = await snapshot(hub);

    for (const recording of [...early, ...late]) {
      await recording.caughtUp(current);
      expect(byId(recording.view.values())).toEqual(byId(current.records));
      expect(recording.monitor.view.problems).toEqual([]);
    }
    for (const client of rawEarly) {
      await client.reached(current.offset);
      await expectSameAsHub(hub, viewOf(client));
    }
    // A resumer gets exactly the changes after `midway`, the same ones an early monitor saw.
    for (const client of resumers) {
      await client.reached(current.offset);
      expect(client.all('snapshot')).toEqual([]);
      const replayed = entriesOf(client);
      expect(replayed[0] ? hub.store.compareOffsets(midway, replayed[0].offset) : -1).toBeLessThan(0);
      expect(replayed).toEqual(entriesOf(rawEarly[0]!).filter((entry) => hub.store.compareOffsets(entry.offset, midway) > 0));
    }
    for (const id of ids) early[0]!.expect(id, 'pending > assigned > running > completed');
  });
});
