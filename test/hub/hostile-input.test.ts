/**
 * One request must never take the hub down for everyone: shapes are bounded before anything
 * touches them, a refused request changes nothing, and every reader still works afterwards.
 */
import { describe, expect, it } from 'vitest';
import type { Hub } from 'statehub';
import type { Json } from '../../machines/json.js';
import { ActorHost } from '../../src/hub/actor-host.js';
import { HubError } from '../../src/protocol/errors.js';
import { SHAPE_LIMITS, checkShape } from '../../src/protocol/shape.js';
import { MemoryStore } from '../../src/store/memory.js';
import { StoreUnavailableError, type Commit } from '../../src/store/store.js';
import { api, snapshot, testHub, testRecording, testWorker } from '../helpers/hub.js';
import { connectMonitor, refusedConnection } from '../helpers/streams.js';

/** `{"a":{"a":…1…}}` nested `depth` deep, as text (building it as an object and stringifying would itself overflow). */
function nestedObjects(depth: number): string {
  return `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
}

function nestedArrays(depth: number): string {
  return `${'['.repeat(depth)}${']'.repeat(depth)}`;
}

async function post(hub: Hub, path: string, text: string) {
  return api(hub, 'POST', path, text, { 'content-type': 'application/json' });
}

/** Every reader still answers, and nothing was stored. */
async function expectReadersWork(hub: Hub): Promise<void> {
  const current = await snapshot(hub);
  expect(current.records.filter((record) => record.kind === 'job')).toEqual([]);
  const events = await fetch(`${hub.url}/api/events`);
  const reader = events.body!.getReader();
  const first = new TextDecoder().decode((await reader.read()).value);
  await reader.cancel();
  expect(first).toContain('statehub events');
  const monitor = await connectMonitor(hub);
  expect(monitor.all<{ offset: string }>('snapshot').at(-1)?.offset).toBe(current.offset);
}

describe('bounded shapes on HTTP bodies', () => {
  it('refuses a payload nested 5,000 deep with 400 naming the field and the limit; nothing is stored, every reader still works', async () => {
    const hub = await testHub();
    const answer = await post(hub, '/api/jobs', `{"type":"simulation","payload":${nestedObjects(5_000)}}`);
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe('bad_request');
    expect(answer.body.error.message).toMatch(/^payload\.a\.a\.a\.a\.a\.….*a nests deeper than the limit of 64 levels$/);
    expect(answer.body.error.details).toMatchObject({ limit: 'maxDepth', value: 64 });
    await expectReadersWork(hub);
  });

  it('refuses requirements nested in arrays 4,000 deep with 400, and creates no job a retry would duplicate', async () => {
    const hub = await testHub();
    const answer = await post(hub, '/api/jobs', `{"type":"simulation","requirements":{"gpu":${nestedArrays(4_000)}}}`);
    expect(answer.status).toBe(400);
    expect(answer.body.error.message).toMatch(/^requirements\.gpu\[0\]\[0\].* nests deeper than the limit of 64 levels$/);
    const batch = await post(hub, '/api/jobs/batch', `{"jobs":[{"type":"x"},{"type":"x","payload":${nestedArrays(100)}}]}`);
    expect(batch.status).toBe(400);
    expect(batch.body.error.message).toMatch(/^jobs\[1\]\.payload(\[0\])+.* nests deeper/);
    await expectReadersWork(hub);
  });

  it('takes a payload at the limit, 64 levels deep counting the body', async () => {
    const hub = await testHub();
    const answer = await post(hub, '/api/jobs', `{"type":"simulation","payload":${nestedObjects(63)}}`);
    expect(answer.status).toBe(201);
    expect((await post(hub, '/api/jobs', `{"type":"simulation","payload":${nestedObjects(64)}}`)).status).toBe(400);
  });

  it('refuses too many keys, too many items and too long strings, naming each', async () => {
    const hub = await testHub({ bodyLimit: 12 * 1024 * 1024 });
    const keys = Object.fromEntries(Array.from({ length: SHAPE_LIMITS.maxKeys + 1 }, (_, index) => [`k${index}`, 0]));
    const tooManyKeys = await api(hub, 'POST', '/api/jobs', { type: 'x', payload: keys });
    expect([tooManyKeys.status, tooManyKeys.body.error.message]).toEqual([400, 'payload has 10,001 keys, over the limit of 10,000']);
    const tooManyItems = await api(hub, 'POST', '/api/jobs', { type: 'x', payload: { list: new Array(SHAPE_LIMITS.maxItems + 1).fill(0) } });
    expect([tooManyItems.status, tooManyItems.body.error.message]).toEqual([400, 'payload.list has 100,001 items, over the limit of 100,000']);
    const long = await api(hub, 'POST', '/api/jobs', { type: 'x', payload: { text: 'x'.repeat(SHAPE_LIMITS.maxStringLength + 1) } });
    expect([long.status, long.body.error.message]).toEqual([400, 'payload.text is 10,485,761 characters long, over the limit of 10,485,760']);
    await expectReadersWork(hub);
  });
});

describe('bounded shapes on sockets', () => {
  it('refuses a monitor whose handshake nests too deep, and a worker whose registration does, and keeps serving both', async () => {
    const hub = await testHub();
    const deep = JSON.parse(nestedObjects(1_000)) as { [key: string]: Json };
    const monitor = await refusedConnection(hub, '/monitor', { filter: deep });
    expect(monitor.data).toMatchObject({ code: 'bad_request', message: expect.stringMatching(/^auth\.filter\.a.* nests deeper than the limit of 64 levels$/) });
    await expect(testWorker(hub, { id: 'deep', capabilities: { gpu: deep } })).rejects.toThrow(/capabilities\.gpu\.a.* nests deeper than the limit of 64 levels/);
    await testWorker(hub, { id: 'fine' });
    await expectReadersWork(hub);
  });

  it('fails the job of a result nested too deep, with that reason, instead of refusing the report', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    await testWorker(hub, {
      id: 'w1',
      connectors: [{ type: 'deep', run: async () => JSON.parse(nestedObjects(100)) }],
    });
    const answer = await api(hub, 'POST', '/api/jobs', { type: 'deep', maxAttempts: 3 });
    const failed = await recording.waitFor(answer.body.id, 'failed');
    expect(failed.snapshot.context).toMatchObject({ attempts: 1, error: { message: expect.stringMatching(/^result\.a\.a.* nests deeper than the limit of 64 levels$/) } });
  });
});

describe('a change that cannot be encoded', () => {
  it('is refused with nothing written, whatever let it through', async () => {
    const store = new MemoryStore();
    const host = new ActorHost(store);
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    const refused = host.run((tx) => tx.create('job', 'job_circular', { type: 'x', payload: circular, createdAt: new Date(0).toISOString() }));
    await expect(refused).rejects.toThrow(HubError);
    await expect(refused).rejects.toThrow(/the change to job job_circular cannot be stored: Converting circular structure to JSON/);
    expect((await store.snapshot()).records).toEqual([]);
  });
});

describe('checkShape', () => {
  it('walks without recursion: 1,000,000 levels are refused, not a stack overflow', () => {
    let deep: unknown = 1;
    for (let level = 0; level < 1_000_000; level++) deep = [deep];
    expect(() => checkShape(deep, 'value')).toThrow(/^value(\[0\]){6}\.….* nests deeper than the limit of 64 levels$/);
  });
});

describe('a commit whose answer is lost', () => {
  it('answers 503 naming the ids it may have stored, so a client reads them instead of submitting twice', async () => {
    // A store that writes, then loses the answer, as a Redis reply lost on a cut connection.
    class LosingStore extends MemoryStore {
      lose = false;
      override async commit(commit: Commit) {
        const entries = await super.commit(commit);
        if (this.lose && commit.records.some((record) => record.kind === 'job')) throw new StoreUnavailableError('Redis did not answer commit: timed out', { maybeApplied: true });
        return entries;
      }
    }
    const store = new LosingStore();
    const hub = await testHub({ store });
    store.lose = true;
    const answer = await api(hub, 'POST', '/api/jobs/batch', { jobs: [{ type: 'x' }, { type: 'y' }] });
    store.lose = false;
    expect(answer.status).toBe(503);
    expect(answer.body.error.message).toMatch(/the jobs may have been stored all the same: read them by id/);
    const ids = answer.body.error.details.ids as string[];
    expect(ids).toHaveLength(2);
    for (const id of ids) expect((await api(hub, 'GET', `/api/jobs/${id}`)).status).toBe(200);
  });
});
