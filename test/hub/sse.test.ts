import { describe, expect, it, onTestFinished } from 'vitest';
import { MemoryStore, View, startHub, type Hub, type LogEntry, type Snapshot } from 'statehub';
import { api, byId, snapshot, submit, testHub, testRecording, testWorker } from '../helpers/hub.js';
import { SseParser, SseStream, connectMonitor, type SseEvent } from '../helpers/streams.js';

/** The transitions of a stream, as `{ offset, record }`, checking each event's id is its offset. */
function transitions(stream: SseStream): LogEntry[] {
  return stream.events
    .filter((event) => event.event === 'transition')
    .map((event) => {
      const entry = JSON.parse(event.data) as LogEntry;
      expect(Object.keys(entry).sort()).toEqual(['offset', 'record']);
      expect(event.id).toBe(entry.offset);
      return entry;
    });
}

/** Applies what a stream delivered (snapshot, then transitions) to a fresh view. */
function viewOf(stream: SseStream, start?: Snapshot): View {
  const view = new View();
  if (start) view.applySnapshot(start);
  for (const event of stream.events) {
    if (event.event === 'snapshot') view.applySnapshot(JSON.parse(event.data) as Snapshot);
    else if (event.event === 'transition') view.applyTransitions([JSON.parse(event.data) as LogEntry]);
  }
  return view;
}

function expectIncreasing(hub: Hub, offsets: string[]): void {
  for (let index = 1; index < offsets.length; index += 1) {
    expect(hub.store.compareOffsets(offsets[index - 1]!, offsets[index]!), `${offsets[index - 1]} before ${offsets[index]}`).toBeLessThan(0);
  }
}

/** Some history: three jobs, one cancelled. */
async function someChanges(hub: Hub, tag: string): Promise<string[]> {
  const a = await submit(hub, { type: 'unserved', payload: `${tag}-a` });
  const { body } = await api(hub, 'POST', '/api/jobs/batch', { jobs: [{ type: 'unserved', payload: `${tag}-b` }, { type: 'other', payload: `${tag}-c` }] });
  await api(hub, 'POST', `/api/jobs/${a.id}/cancel`);
  return [a.id, ...body.records.map((record: { id: string }) => record.id)];
}

describe('the SSE parser in the test helpers', () => {
  it('follows the event-stream format: CR/LF/CRLF, comments, multi-line data, ids that persist', () => {
    const events: SseEvent[] = [];
    const parser = new SseParser((event) => events.push(event));
    parser.push(': hello\r\n\r\nid: 1\nevent: a\ndata: x\ndata:y\r');
    parser.push('\n\rdata: z\n\nevent: b\nfield-we-ignore: 1\n');
    parser.push('data\n\n');
    expect(events).toEqual([
      { event: 'a', data: 'x\ny', id: '1', lastEventId: '1' },
      { event: 'message', data: 'z', id: undefined, lastEventId: '1' },
      { event: 'b', data: '', id: undefined, lastEventId: '1' },
    ]);
    expect(parser.comments).toEqual(['hello']);
  });
});

describe('GET /api/events', () => {
  it('starts with a snapshot event whose id is its offset', async () => {
    const hub = await testHub();
    await someChanges(hub, 'before');
    const current = await snapshot(hub);

    const stream = await SseStream.open(hub, '/api/events');
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toMatch(/^text\/event-stream/);
    await stream.until(() => stream.events.length > 0, 'the first event');
    const [first] = stream.events;
    expect(first!.event).toBe('snapshot');
    const data = JSON.parse(first!.data) as Snapshot;
    expect(first!.id).toBe(data.offset);
    expect(data.offset).toBe(current.offset);
    expect(byId(data.records)).toEqual(byId(current.records));
  });

  it('then sends one transition per change, id = its offset, data = { offset, record }', async () => {
    const hub = await testHub();
    const stream = await SseStream.open(hub, '/api/events');
    await stream.until(() => stream.json('snapshot').length === 1, 'the snapshot');
    const start = stream.json<Snapshot>('snapshot')[0]!;

    const ids = await someChanges(hub, 'live');
    const current = await snapshot(hub);
    await stream.reached(current.offset);

    const entries = transitions(stream);
    // Three creations and one cancellation: four changes, nothing more.
    expect(entries).toHaveLength(4);
    expect(entries.map(({ record }) => [record.id, record.seq, record.state])).toEqual([
      [ids[0], 1, 'pending'],
      [ids[1], 1, 'pending'],
      [ids[2], 1, 'pending'],
      [ids[0], 2, 'cancelled'],
    ]);
    expect(new Set(entries.map((entry) => entry.offset)).size).toBe(4);
    expectIncreasing(hub, [start.offset, ...entries.map((entry) => entry.offset)]);
    expect(entries.at(-1)!.offset).toBe(current.offset);

    const view = viewOf(stream);
    expect(view.problems).toEqual([]);
    expect(view.offset).toBe(current.offset);
    expect(byId(view.records.values())).toEqual(byId(current.records));
  });

  it('follows workers, connectors and jobs through a real run, ending equal to the snapshot', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    const stream = await SseStream.open(hub, '/api/events');
    await stream.until(() => stream.json('snapshot').length === 1, 'the snapshot');

    await testWorker(hub, { id: 'sse-worker', simulations: 2 });
    const jobs = [];
    for (let index = 0; index < 4; index += 1) jobs.push(await submit(hub, { type: 'simulation', payload: { durationMs: 5, steps: 2 } }));
    for (const job of jobs) await recording.waitFor(job.id, 'completed');
    const current = await snapshot(hub);
    await stream.reached(current.offset);
    await recording.caughtUp(current);

    const view = viewOf(stream);
    expect(view.problems).toEqual([]);
    expect(byId(view.records.values())).toEqual(byId(current.records));
    expectIncreasing(hub, transitions(stream).map((entry) => entry.offset));
    // The SSE stream and the Socket.IO monitor saw the same changes.
    for (const job of jobs) {
      expect(transitions(stream).filter((entry) => entry.record.id === job.id).map((entry) => entry.record)).toEqual(recording.records(job.id));
    }
  });

  it('with ?since=<offset> replays exactly the changes after it, without a snapshot, then goes on live', async () => {
    const hub = await testHub();
    const witness = await SseStream.open(hub, '/api/events');
    await someChanges(hub, 'old');
    const { offset: since } = await snapshot(hub);
    await someChanges(hub, 'missed');
    const missedUpTo = await snapshot(hub);
    await witness.reached(missedUpTo.offset);

    const stream = await SseStream.open(hub, `/api/events?since=${encodeURIComponent(since)}`);
    await stream.reached(missedUpTo.offset);
    expect(stream.events.map((event) => event.event)).toEqual(['transition', 'transition', 'transition', 'transition']);
    const all = transitions(witness);
    const after = all.slice(all.findIndex((entry) => entry.offset === since) + 1);
    expect(transitions(stream)).toEqual(after);

    // Live after the replay.
    const late = await submit(hub, { type: 'late' });
    const now = await snapshot(hub);
    await stream.reached(now.offset);
    expect(transitions(stream).at(-1)).toEqual({ offset: now.offset, record: late });
    expect(stream.json('snapshot')).toEqual([]);
  });

  it('resumes from the Last-Event-ID header the same way', async () => {
    const hub = await testHub();
    await someChanges(hub, 'old');
    const first = await SseStream.open(hub, '/api/events');
    await first.until(() => first.events.length > 0, 'the snapshot');
    await someChanges(hub, 'seen');
    const seen = await snapshot(hub);
    await first.reached(seen.offset);
    const lastEventId = first.events.at(-1)!.lastEventId;
    expect(lastEventId).toBe(seen.offset);
    first.close();

    const ids = await someChanges(hub, 'missed');
    const current = await snapshot(hub);

    const resumed = await SseStream.open(hub, '/api/events', { 'last-event-id': lastEventId });
    await resumed.reached(current.offset);
    expect(resumed.json('snapshot')).toEqual([]);
    const entries = transitions(resumed);
    expect(entries.map(({ record }) => [record.id, record.seq])).toEqual([
      [ids[0], 1],
      [ids[1], 1],
      [ids[2], 1],
      [ids[0], 2],
    ]);

    // What the first stream held plus what the resumed one replayed is the hub's snapshot.
    const view = viewOf(first);
    for (const entry of entries) view.applyTransitions([entry]);
    expect(view.problems).toEqual([]);
    expect(byId(view.records.values())).toEqual(byId(current.records));
  });

  it('resumed from the snapshot event id, replays what happened after the snapshot', async () => {
    const hub = await testHub();
    await someChanges(hub, 'old');
    const first = await SseStream.open(hub, '/api/events');
    await first.until(() => first.events.length > 0, 'the snapshot');
    first.close();
    await someChanges(hub, 'missed');
    const current = await snapshot(hub);

    const resumed = await SseStream.open(hub, '/api/events', { 'last-event-id': first.events[0]!.id! });
    await resumed.reached(current.offset);
    expect(resumed.json('snapshot')).toEqual([]);
    const view = viewOf(first);
    for (const entry of transitions(resumed)) view.applyTransitions([entry]);
    expect(view.problems).toEqual([]);
    expect(byId(view.records.values())).toEqual(byId(current.records));
  });

  it('with since = the current offset sends nothing old, only what happens next', async () => {
    const hub = await testHub();
    await someChanges(hub, 'old');
    const { offset } = await snapshot(hub);
    const stream = await SseStream.open(hub, `/api/events?since=${encodeURIComponent(offset)}`);
    const job = await submit(hub, { type: 'next' });
    await stream.until(() => stream.events.length > 0, 'an event');
    const current = await snapshot(hub);
    await stream.reached(current.offset);
    expect(transitions(stream)).toEqual([{ offset: current.offset, record: job }]);
    expect(stream.json('snapshot')).toEqual([]);
  });

  it('answers an unknown or foreign since with a fresh snapshot', async () => {
    const other = await testHub();
    for (let index = 0; index < 30; index += 1) await submit(other, { type: 'elsewhere' });
    const foreign = (await snapshot(other)).offset;

    const hub = await testHub();
    await someChanges(hub, 'here');
    const current = await snapshot(hub);

    for (const since of ['nonsense', '0', `${current.offset}0`, foreign]) {
      const stream = await SseStream.open(hub, `/api/events?since=${encodeURIComponent(since)}`);
      await stream.until(() => stream.events.length > 0, `the first event for since=${since}`);
      expect(stream.events[0]!.event, `since=${since}`).toBe('snapshot');
      const data = JSON.parse(stream.events[0]!.data) as Snapshot;
      expect(data.offset).toBe(current.offset);
      expect(byId(data.records)).toEqual(byId(current.records));
      stream.close();
    }

    const viaHeader = await SseStream.open(hub, '/api/events', { 'last-event-id': foreign });
    await viaHeader.until(() => viaHeader.events.length > 0, 'the first event');
    expect(viaHeader.events[0]!.event).toBe('snapshot');
  });

  it('answers a since older than the log still holds with a fresh snapshot', async () => {
    const hub = await testHub({ store: new MemoryStore({ logLimit: 10 }) });
    const { offset: old } = await snapshot(hub);
    for (let round = 0; round < 3; round += 1) {
      await api(hub, 'POST', '/api/jobs/batch', { jobs: Array.from({ length: 1000 }, () => ({ type: 'bulk' })) });
    }
    const current = await snapshot(hub);
    const stream = await SseStream.open(hub, '/api/events', { 'last-event-id': old });
    await stream.until(() => stream.events.length > 0, 'the first event');
    expect(stream.events[0]!.event).toBe('snapshot');
    const data = JSON.parse(stream.events[0]!.data) as Snapshot;
    expect(data.offset).toBe(current.offset);
    expect(data.records).toHaveLength(3000);
  });

  it('filters by kinds, in the snapshot and live', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    await testWorker(hub, { id: 'kinds-worker' });
    const early = await submit(hub, { type: 'unserved' });

    const stream = await SseStream.open(hub, '/api/events?kinds=job');
    await stream.until(() => stream.events.length > 0, 'the snapshot');
    const first = stream.json<Snapshot>('snapshot')[0]!;
    expect(first.records.map((record) => record.id)).toEqual([early.id]);

    const job = await submit(hub, { type: 'simulation', payload: { durationMs: 5, steps: 2 } });
    await recording.waitFor(job.id, 'completed');
    await stream.until(
      () => transitions(stream).some((entry) => entry.record.id === job.id && entry.record.state === 'completed'),
      `${job.id} completed on the stream`,
    );
    const entries = transitions(stream);
    expect(entries.length).toBeGreaterThanOrEqual(4);
    expect(entries.every((entry) => entry.record.kind === 'job')).toBe(true);
    expect(entries.map((entry) => entry.record)).toEqual(recording.records(job.id));
    expectIncreasing(hub, [first.offset, ...entries.map((entry) => entry.offset)]);
    // Other kinds changed meanwhile (the connector ran the job), but none of it was sent.
    expect(recording.records(recording.ids('connector')[0]!).length).toBeGreaterThan(1);
    const view = viewOf(stream);
    expect(view.problems).toEqual([]);
    expect(byId(view.records.values())).toEqual(byId((await snapshot(hub, '?kinds=job')).records));
  });

  it('filters by ids, in the snapshot, in a replay and live', async () => {
    const hub = await testHub();
    const [a, b, c] = (await someChanges(hub, 'ids')) as [string, string, string];
    const { offset: since } = await snapshot(hub);
    await api(hub, 'POST', `/api/jobs/${b}/cancel`);
    const current = await snapshot(hub);

    const pair = await SseStream.open(hub, `/api/events?ids=${a},${b}`);
    await pair.until(() => pair.events.length > 0, 'the snapshot');
    const first = pair.json<Snapshot>('snapshot')[0]!;
    expect(first.offset).toBe(current.offset);
    expect(first.records.map((record) => [record.id, record.state]).sort()).toEqual(
      [
        [a, 'cancelled'],
        [b, 'cancelled'],
      ].sort(),
    );

    const replay = await SseStream.open(hub, `/api/events?ids=${b}&since=${encodeURIComponent(since)}`);
    await replay.until(() => replay.events.length > 0, 'the replay');
    expect(replay.json('snapshot')).toEqual([]);
    expect(transitions(replay).map(({ record }) => [record.id, record.seq, record.state])).toEqual([[b, 2, 'cancelled']]);

    const single = await SseStream.open(hub, `/api/events?ids=${c}`);
    await single.until(() => single.events.length > 0, 'the snapshot');
    expect(single.json<Snapshot>('snapshot')[0]!.records.map((record) => [record.id, record.state])).toEqual([[c, 'pending']]);
    const unwatched = await submit(hub, { type: 'unwatched' });
    await api(hub, 'POST', `/api/jobs/${unwatched.id}/cancel`);
    await api(hub, 'POST', `/api/jobs/${c}/cancel`);
    const end = await snapshot(hub);
    await single.reached(end.offset);
    expect(transitions(single).map(({ record }) => [record.id, record.seq, record.state])).toEqual([[c, 2, 'cancelled']]);
  });

  it('is counted in statehub_monitors, like Socket.IO monitors', async () => {
    const hub = await testHub();
    await connectMonitor(hub);
    const streams = [await SseStream.open(hub, '/api/events'), await SseStream.open(hub, '/api/events?kinds=job')];
    for (const stream of streams) await stream.until(() => stream.events.length > 0, 'the snapshot');
    const metrics = await api(hub, 'GET', '/metrics');
    // The metric's own help text: "Observers connected to this hub (Socket.IO and SSE)."
    expect(metrics.body).toMatch(/^# HELP statehub_monitors .*SSE/m);
    expect(metrics.body).toMatch(/^statehub_monitors 3$/m);
  });

  it('ends open streams when the hub closes, and the hub finishes closing', async () => {
    const hub = await startHub({ port: 0, logger: false });
    const streams: SseStream[] = [];
    let closing: Promise<void> | undefined;
    onTestFinished(async () => {
      for (const stream of streams) stream.close();
      await (closing ?? hub.close());
    });
    streams.push(await SseStream.open(hub, '/api/events'), await SseStream.open(hub, '/api/events?kinds=job'));
    for (const stream of streams) await stream.until(() => stream.events.length > 0, 'the snapshot');

    closing = hub.close();
    await closing;
    for (const stream of streams) await stream.until(() => stream.ended, 'the stream to end');
  });

  it('refuses a bad query with a 400 JSON error instead of a stream', async () => {
    const hub = await testHub();
    for (const query of ['?kinds=nope', '?kinds=', '?ids=', `?since=${'x'.repeat(500)}`]) {
      const answer = await api(hub, 'GET', `/api/events${query}`);
      expect(answer.status, query).toBe(400);
      expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
      expect(answer.body).toEqual({ error: expect.objectContaining({ code: 'bad_request', message: expect.any(String) }) });
    }
  });
});
