import { get } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { Hub } from 'statehub';
import { api, byId, snapshot, submit, testHub, testRecording, testWorker, type ApiAnswer } from '../helpers/hub.js';

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

/** Asserts the standard error body, with `code`, a message and (maybe) details. */
function expectError(answer: ApiAnswer, status: number, code: string): { code: string; message: string; details?: any } {
  expect(answer.status, JSON.stringify(answer.body)).toBe(status);
  expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
  expect(answer.body).toEqual({ error: expect.objectContaining({ code, message: expect.any(String) }) });
  expect(Object.keys(answer.body.error).every((key) => ['code', 'message', 'details'].includes(key))).toBe(true);
  expect(answer.body.error.message.length).toBeGreaterThan(0);
  return answer.body.error;
}

/** Runs `request` and asserts the hub's snapshot (offset and records) did not move. */
async function changesNothing<T>(hub: Hub, request: () => Promise<T>): Promise<T> {
  const before = await snapshot(hub);
  const result = await request();
  const after = await snapshot(hub);
  expect(after.offset).toBe(before.offset);
  expect(byId(after.records)).toEqual(byId(before.records));
  return result;
}

describe('POST /api/jobs', () => {
  it('answers 201 with the new job record, defaults filled in', async () => {
    const hub = await testHub();
    const before = Date.now();
    const answer = await api(hub, 'POST', '/api/jobs', { type: 'render', payload: { frames: [1, 2] } });

    expect(answer.status).toBe(201);
    expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
    const record = answer.body;
    expect(record).toMatchObject({ kind: 'job', seq: 1, state: 'pending' });
    expect(typeof record.id).toBe('string');
    expect(record.id.length).toBeGreaterThan(0);
    expect(record.removed).toBeUndefined();
    expect(record.updatedAt).toMatch(ISO);
    expect(record.snapshot.context).toMatchObject({
      type: 'render',
      payload: { frames: [1, 2] },
      priority: 0,
      attempts: 0,
      maxAttempts: 3,
      progress: 0,
      workerId: null,
      connectorId: null,
      result: null,
      error: null,
    });
    expect(record.snapshot.context.createdAt).toMatch(ISO);
    expect(Date.parse(record.snapshot.context.createdAt)).toBeGreaterThanOrEqual(before - 1_000);

    // It is what the hub holds: by id and in the snapshot.
    expect((await api(hub, 'GET', `/api/jobs/${record.id}`)).body).toEqual(record);
    expect((await snapshot(hub)).records).toContainEqual(record);
  });

  it('defaults a missing payload to null and keeps given priority and maxAttempts', async () => {
    const hub = await testHub();
    const bare = await submit(hub, { type: 'bare' });
    expect(bare.snapshot.context).toMatchObject({ type: 'bare', payload: null, priority: 0, maxAttempts: 3, attempts: 0 });

    const tuned = await submit(hub, { type: 'tuned', payload: 'text', priority: 7, maxAttempts: 5, timeoutMs: 1_000 });
    expect(tuned.snapshot.context).toMatchObject({ type: 'tuned', payload: 'text', priority: 7, maxAttempts: 5, attempts: 0 });
    expect(tuned.id).not.toBe(bare.id);
  });

  it('keeps a job of a type no connector serves pending: that is not an error', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    await testWorker(hub); // serves `simulation` only
    const job = await submit(hub, { type: 'nobody-serves-this' });
    const served = await submit(hub, { type: 'simulation', payload: { durationMs: 1, steps: 1 } });

    // Once a served job went all the way through, the unserved one is still waiting, untouched.
    await recording.waitFor(served.id, 'completed');
    const now = await api(hub, 'GET', `/api/jobs/${job.id}`);
    expect(now.status).toBe(200);
    expect(now.body).toMatchObject({ id: job.id, seq: 1, state: 'pending' });
    recording.expect(job.id, 'pending');
  });

  it('takes a JSON content type with parameters', async () => {
    const hub = await testHub();
    const answer = await api(hub, 'POST', '/api/jobs', JSON.stringify({ type: 'x' }), { 'content-type': 'application/json; charset=utf-8' });
    expect(answer.status).toBe(201);
  });

  it('takes requirements and a negative priority', async () => {
    const hub = await testHub();
    const job = await submit(hub, { type: 'gpu-job', priority: -5, requirements: { gpu: 1, tags: ['a'] } });
    expect(job.snapshot.context).toMatchObject({ priority: -5, requirements: { gpu: 1, tags: ['a'] } });
  });
});

describe('bad input changes nothing and says why', () => {
  it('refuses malformed JSON with 400', async () => {
    const hub = await testHub();
    await submit(hub, { type: 'existing' });
    const answer = await changesNothing(hub, () => api(hub, 'POST', '/api/jobs', '{"type": "x",', { 'content-type': 'application/json' }));
    expectError(answer, 400, 'bad_request');
  });

  it.each([
    ['type', { type: 42 }],
    ['priority', { type: 'x', priority: 'high' }],
    ['priority', { type: 'x', priority: 1.5 }],
    ['maxAttempts', { type: 'x', maxAttempts: 0 }],
    ['timeoutMs', { type: 'x', timeoutMs: -1 }],
    ['requirements', { type: 'x', requirements: 'gpu' }],
  ])('refuses a wrong type with 400 naming the field (%s)', async (field, body) => {
    const hub = await testHub();
    await submit(hub, { type: 'existing' });
    const answer = await changesNothing(hub, () => api(hub, 'POST', '/api/jobs', body));
    const error = expectError(answer, 400, 'bad_request');
    expect(error.message).toContain(field);
  });

  it('refuses unknown fields with 400 naming them', async () => {
    const hub = await testHub();
    const answer = await changesNothing(hub, () => api(hub, 'POST', '/api/jobs', { type: 'x', colour: 'blue' }));
    const error = expectError(answer, 400, 'bad_request');
    expect(error.message).toContain('colour');
  });

  it('refuses a job without a type, or with an empty one', async () => {
    const hub = await testHub();
    const missing = await changesNothing(hub, () => api(hub, 'POST', '/api/jobs', { payload: {} }));
    expect(expectError(missing, 400, 'bad_request').message).toContain('type');
    const empty = await changesNothing(hub, () => api(hub, 'POST', '/api/jobs', { type: '' }));
    expect(expectError(empty, 400, 'bad_request').message).toContain('type');
    const spaced = await changesNothing(hub, () => api(hub, 'POST', '/api/jobs', { type: 'has space' }));
    expect(expectError(spaced, 400, 'bad_request').message).toContain('type');
  });

  it('refuses bodies that are not a job object', async () => {
    const hub = await testHub();
    for (const body of [[{ type: 'x' }], 'null', '"render"', '42']) {
      const answer = await changesNothing(hub, () => api(hub, 'POST', '/api/jobs', body, { 'content-type': 'application/json' }));
      expectError(answer, 400, 'bad_request');
    }
  });

  it('refuses an empty body with 400, with or without a JSON content type', async () => {
    const hub = await testHub();
    const declared = await changesNothing(hub, () => api(hub, 'POST', '/api/jobs', '', { 'content-type': 'application/json' }));
    expectError(declared, 400, 'bad_request');
    const bare = await changesNothing(hub, () => api(hub, 'POST', '/api/jobs'));
    expectError(bare, 400, 'bad_request');
  });

  it.each(['application/x-www-form-urlencoded', 'text/plain', 'application/xml', 'multipart/form-data; boundary=x'])(
    'refuses a non-JSON content type (%s) with 415',
    async (contentType) => {
      const hub = await testHub();
      const answer = await changesNothing(hub, () => api(hub, 'POST', '/api/jobs', JSON.stringify({ type: 'x' }), { 'content-type': contentType }));
      expectError(answer, 415, 'unsupported_media_type');
    },
  );

  it('refuses a body over 1 MiB with 413', async () => {
    const hub = await testHub();
    const big = JSON.stringify({ type: 'big', payload: 'x'.repeat(1024 * 1024) });
    const answer = await changesNothing(hub, () => api(hub, 'POST', '/api/jobs', big));
    const error = expectError(answer, 413, 'payload_too_large');
    expect(error.details).toEqual({ limit: 1024 * 1024 });

    // Just under the limit is fine.
    const fits = JSON.stringify({ type: 'big', payload: 'x'.repeat(1024 * 1024 - 100) });
    expect((await api(hub, 'POST', '/api/jobs', fits)).status).toBe(201);
  });

  it('refuses a streamed (chunked) body over the limit with 413, without a Content-Length', async () => {
    const hub = await testHub({ bodyLimit: 1_000 });
    const before = await snapshot(hub);
    const chunk = new TextEncoder().encode(`{"type":"x","payload":"${'z'.repeat(600)}`);
    const tail = new TextEncoder().encode(`${'z'.repeat(600)}"}`);
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(chunk);
        controller.enqueue(tail);
        controller.close();
      },
    });
    const response = await fetch(`${hub.url}/api/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      duplex: 'half',
    } as RequestInit);
    const answer: ApiAnswer = { status: response.status, body: await response.json(), headers: response.headers };
    expectError(answer, 413, 'payload_too_large');
    const after = await snapshot(hub);
    expect(after).toEqual(before);
  });

  it('refuses a batch over the body limit with 413', async () => {
    const hub = await testHub();
    const jobs = Array.from({ length: 10 }, () => ({ type: 'big', payload: 'x'.repeat(120 * 1024) }));
    expectError(await changesNothing(hub, () => api(hub, 'POST', '/api/jobs/batch', { jobs })), 413, 'payload_too_large');
  });

  it('refuses prototype-poisoning JSON with 400', async () => {
    const hub = await testHub();
    const answer = await changesNothing(hub, () => api(hub, 'POST', '/api/jobs', '{"type":"x","__proto__":{"admin":true}}', { 'content-type': 'application/json' }));
    expectError(answer, 400, 'bad_request');
  });

  it('honours a custom bodyLimit', async () => {
    const hub = await testHub({ bodyLimit: 200 });
    const answer = await changesNothing(hub, () => api(hub, 'POST', '/api/jobs', { type: 'x', payload: 'y'.repeat(300) }));
    const error = expectError(answer, 413, 'payload_too_large');
    expect(error.message).toContain('200');
    expect((await api(hub, 'POST', '/api/jobs', { type: 'x', payload: 'small' })).status).toBe(201);
  });

  it('refuses a payload over --max-payload-bytes with 400 naming its size and the limit, alone or in a batch', async () => {
    const hub = await testHub({ maxPayloadBytes: 1_000 });
    const big = { text: 'p'.repeat(2_000) };
    const alone = expectError(await changesNothing(hub, () => api(hub, 'POST', '/api/jobs', { type: 'x', payload: big })), 400, 'bad_request');
    expect(alone.message).toBe('payload is 2 KiB (2,011 bytes), over the limit of 1000 B (1,000 bytes) (--max-payload-bytes)');
    expect(alone.details).toEqual({ field: 'payload', bytes: 2_011, limit: 1_000 });
    const batch = await changesNothing(hub, () => api(hub, 'POST', '/api/jobs/batch', { jobs: [{ type: 'x' }, { type: 'x', payload: big }] }));
    expect(expectError(batch, 400, 'bad_request').message).toMatch(/^jobs\[1\]\.payload is 2 KiB/);
    expect((await api(hub, 'POST', '/api/jobs', { type: 'x', payload: { text: 'fits' } })).status).toBe(201);
  });

  it('refuses a batch with one invalid job, naming its index, and creates none of them', async () => {
    const hub = await testHub();
    const jobs = [{ type: 'a' }, { type: 'b' }, { type: 'c', priority: 'urgent' }, { type: 'd' }];
    const answer = await changesNothing(hub, () => api(hub, 'POST', '/api/jobs/batch', { jobs }));
    const error = expectError(answer, 400, 'bad_request');
    expect(error.message).toMatch(/\b2\b/);
    expect(error.message).toContain('priority');
    expect(error.details).toMatchObject({ index: 2 });
    expect(JSON.stringify(error.details)).toContain('priority');
    expect((await snapshot(hub, '?kinds=job')).records).toEqual([]);
  });

  it('refuses a batch item with unknown fields or of the wrong shape, naming its index', async () => {
    const hub = await testHub();
    for (const bad of [{ type: 'c', extra: true }, 'c', null, { payload: 1 }]) {
      const answer = await changesNothing(hub, () => api(hub, 'POST', '/api/jobs/batch', { jobs: [{ type: 'a' }, { type: 'b' }, bad] }));
      expect(expectError(answer, 400, 'bad_request').details).toMatchObject({ index: 2 });
    }
  });

  it('refuses batches of 0 and of 1001 jobs, and malformed batches', async () => {
    const hub = await testHub();
    expectError(await changesNothing(hub, () => api(hub, 'POST', '/api/jobs/batch', { jobs: [] })), 400, 'bad_request');
    const tooMany = Array.from({ length: 1001 }, (_, index) => ({ type: 'many', payload: index }));
    expectError(await changesNothing(hub, () => api(hub, 'POST', '/api/jobs/batch', { jobs: tooMany })), 400, 'bad_request');
    expectError(await changesNothing(hub, () => api(hub, 'POST', '/api/jobs/batch', {})), 400, 'bad_request');
    expectError(await changesNothing(hub, () => api(hub, 'POST', '/api/jobs/batch', { jobs: { type: 'a' } })), 400, 'bad_request');
    expectError(await changesNothing(hub, () => api(hub, 'POST', '/api/jobs/batch', { jobs: [{ type: 'a' }], more: 1 })), 400, 'bad_request');
    expectError(await changesNothing(hub, () => api(hub, 'POST', '/api/jobs/batch', '{"jobs": [', { 'content-type': 'application/json' })), 400, 'bad_request');
  });

  it('answers 404 for an unknown job id, on GET and on cancel', async () => {
    const hub = await testHub();
    await submit(hub, { type: 'existing' });
    expectError(await changesNothing(hub, () => api(hub, 'GET', '/api/jobs/job_nope')), 404, 'not_found');
    expectError(await changesNothing(hub, () => api(hub, 'POST', '/api/jobs/job_nope/cancel')), 404, 'not_found');
  });

  it('answers 404 when the id is an actor that is not a job', async () => {
    const hub = await testHub();
    const worker = await testWorker(hub, { id: 'w-not-a-job' });
    expectError(await api(hub, 'GET', `/api/jobs/${worker.id}`), 404, 'not_found');
    expectError(await changesNothing(hub, () => api(hub, 'POST', `/api/jobs/${worker.id}/cancel`)), 404, 'not_found');
  });

  it('answers 409 when cancelling a job that already finished', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    await testWorker(hub);
    const job = await submit(hub, { type: 'simulation', payload: { durationMs: 1, steps: 1 } });
    await recording.waitFor(job.id, 'completed');

    const answer = await changesNothing(hub, () => api(hub, 'POST', `/api/jobs/${job.id}/cancel`));
    const error = expectError(answer, 409, 'conflict');
    expect(error.message).toContain('completed');
    expect((await api(hub, 'GET', `/api/jobs/${job.id}`)).body).toMatchObject({ state: 'completed' });
  });

  it('answers 404 JSON for an unknown route or method', async () => {
    const hub = await testHub();
    const unknown = await changesNothing(hub, () => api(hub, 'GET', '/api/nope'));
    expect(expectError(unknown, 404, 'not_found').message).toContain('/api/nope');
    expectError(await changesNothing(hub, () => api(hub, 'DELETE', '/api/jobs')), 404, 'not_found');
    expectError(await changesNothing(hub, () => api(hub, 'POST', '/api/nope', { type: 'x' })), 404, 'not_found');
  });

  it('refuses an unknown kind in /api/snapshot?kinds= with 400', async () => {
    const hub = await testHub();
    const error = expectError(await api(hub, 'GET', '/api/snapshot?kinds=job,nope'), 400, 'bad_request');
    expect(error.message).toContain('kinds');
    expectError(await api(hub, 'GET', '/api/snapshot?kinds='), 400, 'bad_request');
  });
});

describe('POST /api/jobs/batch', () => {
  it('answers 201 with { records } in the order sent', async () => {
    const hub = await testHub();
    const jobs = [
      { type: 'first', payload: 1 },
      { type: 'second', payload: 2, priority: 3 },
      { type: 'third', payload: 3 },
    ];
    const answer = await api(hub, 'POST', '/api/jobs/batch', { jobs });
    expect(answer.status).toBe(201);
    expect(Object.keys(answer.body)).toEqual(['records']);
    const { records } = answer.body;
    expect(records.map((record: any) => [record.snapshot.context.type, record.snapshot.context.payload])).toEqual([
      ['first', 1],
      ['second', 2],
      ['third', 3],
    ]);
    expect(records.every((record: any) => record.kind === 'job' && record.seq === 1 && record.state === 'pending')).toBe(true);
    expect(new Set(records.map((record: any) => record.id)).size).toBe(3);
    const current = await snapshot(hub, '?kinds=job');
    expect(byId(current.records)).toEqual(byId(records));
  });

  it('takes 1000 jobs at once', async () => {
    const hub = await testHub();
    const jobs = Array.from({ length: 1000 }, (_, index) => ({ type: 'many', payload: index }));
    const answer = await api(hub, 'POST', '/api/jobs/batch', { jobs });
    expect(answer.status).toBe(201);
    expect(answer.body.records.map((record: any) => record.snapshot.context.payload)).toEqual(jobs.map((job) => job.payload));
    expect((await snapshot(hub, '?kinds=job')).records).toHaveLength(1000);
  });
});

describe('reading and cancelling jobs', () => {
  it('reads a job by id and cancels a pending one; cancelling again is a conflict', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    const job = await submit(hub, { type: 'unserved', payload: { n: 1 } });

    const read = await api(hub, 'GET', `/api/jobs/${job.id}`);
    expect(read.status).toBe(200);
    expect(read.body).toEqual(job);

    const cancelled = await api(hub, 'POST', `/api/jobs/${job.id}/cancel`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ id: job.id, kind: 'job', seq: 2, state: 'cancelled' });
    expect(cancelled.body.snapshot.context).toMatchObject({ type: 'unserved', payload: { n: 1 } });
    expect((await api(hub, 'GET', `/api/jobs/${job.id}`)).body).toEqual(cancelled.body);

    const again = await changesNothing(hub, () => api(hub, 'POST', `/api/jobs/${job.id}/cancel`));
    expect(expectError(again, 409, 'conflict').message).toContain('cancelled');

    await recording.waitFor(job.id, 'cancelled');
    recording.expect(job.id, 'pending > cancelled');
  });

  it('cancels a running job: the record says cancelled and its connector is freed', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    const worker = await testWorker(hub, { id: 'cancel-worker' });
    const job = await submit(hub, { type: 'simulation', payload: { durationMs: 60_000, steps: 1_000 } });
    await recording.waitFor(job.id, 'running');

    const answer = await api(hub, 'POST', `/api/jobs/${job.id}/cancel`);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ id: job.id, state: 'cancelled' });
    await recording.waitFor(job.id, 'cancelled');
    recording.expect(job.id, 'pending > assigned > running > cancelled');

    // The connector stops the work and takes the next job.
    const connectorId = [...worker.connectors.keys()][0]!;
    const next = await submit(hub, { type: 'simulation', payload: { durationMs: 1, steps: 1 } });
    await recording.waitFor(next.id, 'completed');
    expect((await api(hub, 'GET', `/api/jobs/${next.id}`)).body.snapshot.context.connectorId).toBe(connectorId);
    expect((await api(hub, 'GET', `/api/jobs/${job.id}`)).body.state).toBe('cancelled');
  });

  it('keeps a finished job readable by id after it left the live set, with removed: true', async () => {
    const hub = await testHub({ retention: { keepFinishedMs: 0, maxFinished: 0 } });
    const recording = await testRecording(hub);
    await testWorker(hub);
    const job = await submit(hub, { type: 'simulation', payload: { durationMs: 1, steps: 1 } });

    const removed = await recording.waitFor(job.id, (record) => record.removed === true);
    recording.expect(job.id, 'pending > assigned > running > completed');
    expect(removed.state).toBe('completed');

    const current = await snapshot(hub);
    expect(current.records.map((record) => record.id)).not.toContain(job.id);
    expect(recording.view.has(job.id)).toBe(false);

    const read = await api(hub, 'GET', `/api/jobs/${job.id}`);
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ id: job.id, kind: 'job', state: 'completed', removed: true });
    expect(read.body).toEqual(removed);
    expect(read.body.snapshot.context).toMatchObject({ progress: 100, attempts: 1, error: null });

    // Gone from the live set, so it cannot be cancelled any more: it is final.
    expectError(await api(hub, 'POST', `/api/jobs/${job.id}/cancel`), 409, 'conflict');
  });
});

describe('GET /api/snapshot', () => {
  it('answers { offset, records } with a string offset, and filters by kinds', async () => {
    const hub = await testHub();
    const empty = await snapshot(hub);
    expect(typeof empty.offset).toBe('string');
    expect(empty.offset.length).toBeGreaterThan(0);
    expect(empty.records).toEqual([]);

    const recording = await testRecording(hub);
    const worker = await testWorker(hub, { id: 'snap-worker', simulations: 2 });
    const job = await submit(hub, { type: 'unserved' });
    for (const connectorId of worker.connectors.keys()) await recording.waitFor(connectorId, 'idle');

    const all = await api(hub, 'GET', '/api/snapshot');
    expect(all.status).toBe(200);
    expect(Object.keys(all.body).sort()).toEqual(['offset', 'records']);
    expect(typeof all.body.offset).toBe('string');
    expect(all.body.offset).not.toBe(empty.offset);
    const kinds = new Set(all.body.records.map((record: any) => record.kind));
    expect(kinds).toEqual(new Set(['machine', 'worker', 'connector', 'job']));

    const some = await snapshot(hub, '?kinds=job,worker');
    expect(typeof some.offset).toBe('string');
    expect(byId(some.records)).toEqual(byId(all.body.records.filter((record: any) => record.kind === 'job' || record.kind === 'worker')));
    expect(some.records.map((record) => record.id)).toContain(job.id);
    expect(some.records.map((record) => record.id)).toContain('snap-worker');

    const jobsOnly = await snapshot(hub, '?kinds=job');
    expect(jobsOnly.records.map((record) => record.id)).toEqual([job.id]);

    await recording.caughtUp(all.body);
    expect(byId(recording.view.values())).toEqual(byId(all.body.records));
  });

  it('moves its offset on every change and never reuses one', async () => {
    const hub = await testHub();
    const seen = new Set<string>([(await snapshot(hub)).offset]);
    for (let index = 0; index < 5; index += 1) {
      await submit(hub, { type: 'x', payload: index });
      const { offset } = await snapshot(hub);
      expect(seen.has(offset)).toBe(false);
      seen.add(offset);
    }
  });
});

describe('GET /api/snapshot compression', () => {
  /** The raw answer: status, headers and body bytes as sent (undecoded). */
  function rawGet(hub: Hub, headers: Record<string, string>): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
    return new Promise((resolve, reject) => {
      get(new URL('/api/snapshot', hub.url), { headers }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }));
      }).on('error', reject);
    });
  }

  it('gzips a large snapshot for a client that accepts it, and only then', async () => {
    const hub = await testHub();
    const small = await rawGet(hub, { 'accept-encoding': 'gzip, deflate, br' });
    expect(small.headers['content-encoding']).toBeUndefined();
    await api(hub, 'POST', '/api/jobs/batch', { jobs: Array.from({ length: 200 }, (_, index) => ({ type: 'unserved', payload: { index } })) });

    const plain = await rawGet(hub, {});
    expect(plain.status).toBe(200);
    expect(plain.headers['content-encoding']).toBeUndefined();
    const zipped = await rawGet(hub, { 'accept-encoding': 'br;q=1, gzip;q=0.5' });
    expect(zipped.status).toBe(200);
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(zipped.headers.vary).toMatch(/accept-encoding/i);
    expect(zipped.headers['x-statehub-time']).toMatch(/^\d+$/);
    expect(JSON.parse(gunzipSync(zipped.body).toString('utf8'))).toEqual(JSON.parse(plain.body.toString('utf8')));
    expect(zipped.body.length).toBeLessThan(plain.body.length / 5);
    const refused = await rawGet(hub, { 'accept-encoding': 'gzip;q=0, identity' });
    expect(refused.headers['content-encoding']).toBeUndefined();
  });

  it('sends a large snapshot in slices (chunked), the same JSON plain or gzipped, and keeps answering other requests meanwhile', async () => {
    const hub = await testHub();
    for (let batch = 0; batch < 3; batch++) {
      await api(hub, 'POST', '/api/jobs/batch', { jobs: Array.from({ length: 1_000 }, (_, index) => ({ type: 'unserved', payload: { batch, index, text: 'x'.repeat(200) } })) });
    }
    const stored = await hub.store.snapshot();
    expect(stored.records.length).toBeGreaterThanOrEqual(3_000);

    const [plain, zipped, health] = await Promise.all([
      rawGet(hub, {}),
      rawGet(hub, { 'accept-encoding': 'gzip' }),
      api(hub, 'GET', '/healthz'),
    ]);
    expect(health.status).toBe(200);
    for (const answer of [plain, zipped]) {
      expect(answer.status).toBe(200);
      expect(answer.headers['transfer-encoding']).toBe('chunked');
      expect(answer.headers['content-type']).toMatch(/^application\/json/);
      expect(answer.headers['x-statehub-time']).toMatch(/^\d+$/);
    }
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(zipped.headers['content-encoding']).toBe('gzip');
    const text = plain.body.toString('utf8');
    // The same text as one JSON.stringify of the snapshot at that offset (nothing moved meanwhile).
    expect(text).toBe(JSON.stringify(await hub.store.snapshot()));
    expect(gunzipSync(zipped.body).toString('utf8')).toBe(text);
  });
});

describe('GET /api/actors/:id', () => {
  it('reads any actor by id, and answers 404 for an unknown one', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    await testWorker(hub, { id: 'actor-worker' });
    // Nothing moves any more: the connector has come up.
    await recording.waitFor('actor-worker/simulation-1', 'idle');
    const current = await snapshot(hub);
    for (const record of current.records) {
      const answer = await api(hub, 'GET', `/api/actors/${encodeURIComponent(record.id)}`);
      expect(answer.status).toBe(200);
      expect(answer.body).toEqual(record);
    }
    expectError(await api(hub, 'GET', '/api/actors/nobody'), 404, 'not_found');
  });
});

describe('health and metrics', () => {
  it('GET /healthz answers 200 { status: "ok" }', async () => {
    const hub = await testHub();
    const answer = await api(hub, 'GET', '/healthz');
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ status: 'ok' });
  });

  it('GET /metrics answers Prometheus text that counts live actors', async () => {
    const hub = await testHub();
    await submit(hub, { type: 'counted' });
    await submit(hub, { type: 'counted' });
    const answer = await api(hub, 'GET', '/metrics');
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(typeof answer.body).toBe('string');
    expect(answer.body).toContain('# TYPE statehub_actors gauge');
    expect(answer.body).toMatch(/^statehub_actors\{kind="job",state="pending"\} 2$/m);
  });

  it('serves the built monitor at /', async () => {
    const hub = await testHub();
    const answer = await api(hub, 'GET', '/');
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toMatch(/^text\/html/);
    expect(answer.body).not.toContain('not built');
  });

  it('sends a typed or shared address of a monitor page on to its route; other paths stay 404 JSON', async () => {
    const hub = await testHub();
    const html = { accept: 'text/html,application/xhtml+xml' };
    const visit = (path: string, headers: Record<string, string> = html) => fetch(`${hub.url}${path}`, { headers, redirect: 'manual' });
    for (const [path, route] of [['/jobs', '/#/jobs'], ['/jobs/job_123', '/#/jobs/job_123'], ['/jobs?state=failed', '/#/jobs'], ['/submit', '/#/submit'], ['/system', '/#/system']]) {
      const answer = await visit(path as string);
      expect([answer.status, answer.headers.get('location')], path).toEqual([302, route]);
    }
    // A script asking for JSON, or a path that is no page, gets the API's 404.
    for (const [path, headers] of [['/jobs', { accept: 'application/json' }], ['/nope', html], ['/api/nope', html]] as const) {
      const answer = await visit(path, headers);
      expect(answer.status, path).toBe(404);
      expect(await answer.json()).toMatchObject({ error: { code: 'not_found' } });
    }
    const page = await visit('/');
    expect([page.status, page.headers.get('cache-control')]).toEqual([200, 'no-cache']);
    const asset = (await page.text()).match(/src="(\/assets\/[^"]+\.js)"/)?.[1] as string;
    const script = await visit(asset);
    expect([script.status, script.headers.get('content-type'), script.headers.get('cache-control')]).toEqual([200, 'text/javascript; charset=utf-8', 'public, max-age=31536000, immutable']);
  });

  it('serves nothing outside the built monitor, however the path is encoded', async () => {
    const hub = await testHub();
    for (const path of ['/../package.json', '/%2e%2e/package.json', '/..%2f..%2fpackage.json', '/%2e%2e%2f%2e%2e%2fpackage.json', '/assets/..%5c..%5c..%5cpackage.json']) {
      const answer = await fetch(`${hub.url}${path}`);
      const text = await answer.text();
      expect(text, path).not.toContain('"name": "statehub"');
    }
  });

  it('serves a plain live page at / that says how to build the monitor when it is not built', async () => {
    const hub = await testHub({ uiDir: '/nonexistent/statehub-ui' });
    const answer = await api(hub, 'GET', '/');
    expect(answer.status).toBe(200);
    expect(answer.body).toContain('The monitor UI is not built here');
    expect(answer.body).toContain('/api/events');
  });
});
