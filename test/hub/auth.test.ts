import { describe, expect, it, onTestFinished } from 'vitest';
import { Monitor, type Hub } from 'statehub';
import { recordHub } from 'statehub/testing';
import { api, byId, testHub, testRecording, testWorker, type ApiAnswer } from '../helpers/hub.js';
import { SseStream, connectMonitor, refusedConnection } from '../helpers/streams.js';

const TOKENS = { a: 'admin', m: 'monitor', c: 'client', w: 'worker' } as const;
type Token = keyof typeof TOKENS;

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

/** An HTTP call as one token (or none, or a token the hub does not know). */
function as(hub: Hub, token: string | undefined, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiAnswer> {
  return api(hub, method, path, body, { ...(token === undefined ? {} : bearer(token)), ...headers });
}

async function adminSnapshot(hub: Hub): Promise<{ offset: string; records: any[] }> {
  const answer = await as(hub, 'a', 'GET', '/api/snapshot');
  expect(answer.status).toBe(200);
  return answer.body;
}

async function adminSubmit(hub: Hub, job: Record<string, unknown>): Promise<any> {
  const answer = await as(hub, 'a', 'POST', '/api/jobs', job);
  expect(answer.status).toBe(201);
  return answer.body;
}

function expectRefused(answer: ApiAnswer, status: 401 | 403): void {
  expect(answer.status, JSON.stringify(answer.body)).toBe(status);
  expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
  expect(answer.body).toEqual({
    error: expect.objectContaining({ code: status === 401 ? 'unauthorized' : 'forbidden', message: expect.any(String) }),
  });
}

/** Every HTTP operation, as a stranger would call it; `job` is a pending job to read or cancel. */
const OPERATIONS = {
  submit: (hub: Hub, token: string | undefined) => as(hub, token, 'POST', '/api/jobs', { type: 'unserved' }),
  batch: (hub: Hub, token: string | undefined) => as(hub, token, 'POST', '/api/jobs/batch', { jobs: [{ type: 'unserved' }] }),
  cancel: (hub: Hub, token: string | undefined, job: string) => as(hub, token, 'POST', `/api/jobs/${job}/cancel`),
  getJob: (hub: Hub, token: string | undefined, job: string) => as(hub, token, 'GET', `/api/jobs/${job}`),
  snapshot: (hub: Hub, token: string | undefined) => as(hub, token, 'GET', '/api/snapshot'),
  snapshotKinds: (hub: Hub, token: string | undefined) => as(hub, token, 'GET', '/api/snapshot?kinds=job'),
  healthz: (hub: Hub, token: string | undefined) => as(hub, token, 'GET', '/healthz'),
  metrics: (hub: Hub, token: string | undefined) => as(hub, token, 'GET', '/metrics'),
} as const;
type Operation = keyof typeof OPERATIONS;

const SUCCESS: Record<Operation, number> = { submit: 201, batch: 201, cancel: 200, getJob: 200, snapshot: 200, snapshotKinds: 200, healthz: 200, metrics: 200 };
const WRITES = new Set<Operation>(['submit', 'batch', 'cancel']);

/** Which roles may do what: monitor reads; client submits, cancels and reads; worker none of these; admin all. */
function allowed(token: Token, operation: Operation): boolean {
  switch (TOKENS[token]) {
    case 'admin':
      return true;
    case 'client':
      return true;
    case 'monitor':
      return !WRITES.has(operation);
    case 'worker':
      return false;
  }
}

describe('HTTP with tokens', () => {
  const cases = (Object.keys(OPERATIONS) as Operation[]).flatMap((operation) =>
    (Object.keys(TOKENS) as Token[]).map((token) => [operation, token, allowed(token, operation)] as const),
  );

  it.each(cases)('%s as %s: allowed = %s', async (operation, token, isAllowed) => {
    const hub = await testHub({ tokens: TOKENS });
    const job = await adminSubmit(hub, { type: 'unserved' });
    const before = await adminSnapshot(hub);

    const answer = await OPERATIONS[operation](hub, token, job.id);
    if (isAllowed) {
      expect(answer.status, JSON.stringify(answer.body)).toBe(SUCCESS[operation]);
      if (operation === 'cancel') expect(answer.body).toMatchObject({ id: job.id, state: 'cancelled' });
      if (operation === 'getJob') expect(answer.body).toEqual(job);
    } else {
      expectRefused(answer, 403);
      expect(await adminSnapshot(hub)).toEqual(before);
    }
  });

  it.each(Object.keys(OPERATIONS) as Operation[])('%s without a token or with an unknown one: 401, nothing changes', async (operation) => {
    const hub = await testHub({ tokens: TOKENS });
    const job = await adminSubmit(hub, { type: 'unserved' });
    const before = await adminSnapshot(hub);
    for (const token of [undefined, 'nope', '']) {
      expectRefused(await OPERATIONS[operation](hub, token, job.id), 401);
    }
    // Not a bearer token, or a bearer with nothing after it.
    expectRefused(await as(hub, undefined, 'GET', '/api/snapshot', undefined, { authorization: 'Basic YTph' }), 401);
    expectRefused(await as(hub, undefined, 'GET', `/api/jobs/${job.id}`, undefined, { authorization: 'Bearer' }), 401);
    expect(await adminSnapshot(hub)).toEqual(before);
  });

  it('a client submits, reads and cancels its jobs end to end, run by a worker with a worker token', async () => {
    const hub = await testHub({ tokens: TOKENS });
    const recording = await testRecording(hub, { token: 'm' });
    await testWorker(hub, { id: 'token-worker', token: 'w' });

    const submitted = await as(hub, 'c', 'POST', '/api/jobs', { type: 'simulation', payload: { durationMs: 5, steps: 2 } });
    expect(submitted.status).toBe(201);
    const done = await recording.waitFor(submitted.body.id, 'completed');
    recording.expect(submitted.body.id, 'pending > assigned > running > completed');

    const read = await as(hub, 'c', 'GET', `/api/jobs/${submitted.body.id}`);
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ id: done.id, state: 'completed' });
    const late = await as(hub, 'c', 'POST', `/api/jobs/${submitted.body.id}/cancel`);
    expect(late.status).toBe(409);

    const current = await adminSnapshot(hub);
    await recording.caughtUp(current);
    expect(byId(recording.view.values())).toEqual(byId(current.records));
  });

  it('accepts the bearer scheme in any case', async () => {
    const hub = await testHub({ tokens: TOKENS });
    expect((await api(hub, 'GET', '/api/snapshot', undefined, { authorization: 'bearer m' })).status).toBe(200);
    expect((await api(hub, 'GET', '/api/snapshot', undefined, { authorization: 'BEARER m' })).status).toBe(200);
  });

  it('refuses an unauthenticated request with 401 even when its body is bad', async () => {
    const hub = await testHub({ tokens: TOKENS });
    const before = await adminSnapshot(hub);
    // Who you are is checked before what you sent: a stranger learns nothing from the body checks.
    expectRefused(await as(hub, undefined, 'POST', '/api/jobs', '{"type": ', { 'content-type': 'application/json' }), 401);
    expectRefused(await as(hub, undefined, 'POST', '/api/jobs', { type: 'x', unknown: 1 }), 401);
    expectRefused(await as(hub, undefined, 'POST', '/api/jobs', 'type=x', { 'content-type': 'application/x-www-form-urlencoded' }), 401);
    expectRefused(await as(hub, undefined, 'POST', '/api/jobs', { type: 'x', payload: 'y'.repeat(1024 * 1024) }), 401);
    expectRefused(await as(hub, 'm', 'POST', '/api/jobs', '{"type": ', { 'content-type': 'application/json' }), 403);
    expect(await adminSnapshot(hub)).toEqual(before);
  });

  it('serves the UI page at / without a token', async () => {
    const hub = await testHub({ tokens: TOKENS });
    const page = await api(hub, 'GET', '/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
  });
});

describe('SSE with tokens', () => {
  it('streams to a reader token and refuses others before streaming', async () => {
    const hub = await testHub({ tokens: TOKENS });
    for (const token of ['m', 'c', 'a']) {
      const stream = await SseStream.open(hub, '/api/events', bearer(token));
      expect(stream.status, token).toBe(200);
      await stream.until(() => stream.events.length > 0, 'the snapshot');
      expect(stream.events[0]!.event).toBe('snapshot');
      stream.close();
    }
    expectRefused(await as(hub, 'w', 'GET', '/api/events'), 403);
    expectRefused(await as(hub, undefined, 'GET', '/api/events'), 401);
    expectRefused(await as(hub, 'nope', 'GET', '/api/events'), 401);
  });

  it('takes the token as a query parameter, for EventSource which cannot send headers', async () => {
    const hub = await testHub({ tokens: TOKENS });
    const stream = await SseStream.open(hub, '/api/events?token=m');
    expect(stream.status).toBe(200);
    await stream.until(() => stream.events.length > 0, 'the snapshot');
    expect(stream.events[0]!.event).toBe('snapshot');
    expectRefused(await as(hub, undefined, 'GET', '/api/events?token=w'), 403);
    expectRefused(await as(hub, undefined, 'GET', '/api/events?token=nope'), 401);
  });
});

describe('sockets with tokens', () => {
  it('refuses /monitor without a token, or with an unknown one: connect_error unauthorized', async () => {
    const hub = await testHub({ tokens: TOKENS });
    for (const auth of [{}, { token: 'nope' }, { token: '' }]) {
      const refusal = await refusedConnection(hub, '/monitor', auth);
      expect(refusal.data, JSON.stringify(auth)).toEqual(expect.objectContaining({ code: 'unauthorized', message: expect.any(String) }));
    }
  });

  it('refuses /monitor to a worker token: connect_error forbidden', async () => {
    const hub = await testHub({ tokens: TOKENS });
    const refusal = await refusedConnection(hub, '/monitor', { token: 'w' });
    expect(refusal.data).toEqual(expect.objectContaining({ code: 'forbidden', message: expect.any(String) }));
  });

  it('lets monitor, client and admin tokens watch /monitor', async () => {
    const hub = await testHub({ tokens: TOKENS });
    const job = await adminSubmit(hub, { type: 'unserved' });
    for (const token of ['m', 'c', 'a']) {
      const client = await connectMonitor(hub, { token });
      expect(client.all('snapshot')[0].records.map((record: { id: string }) => record.id), token).toEqual([job.id]);
      client.close();
    }
    const recording = await recordHub(hub.url, { token: 'm' });
    try {
      expect([...recording.view.keys()]).toEqual([job.id]);
    } finally {
      recording.close();
    }
  });

  it('the statehub Monitor reports a refusal', async () => {
    const hub = await testHub({ tokens: TOKENS });
    const monitor = new Monitor(hub.url, { token: 'w' });
    onTestFinished(() => monitor.close());
    await new Promise<void>((resolve) => {
      if (monitor.state === 'refused') resolve();
      monitor.onState((state) => state === 'refused' && resolve());
    });
    expect(monitor.refusal).toEqual(expect.objectContaining({ code: 'forbidden', message: expect.any(String) }));
  });

  it('recordHub (statehub/testing) rejects with the hub\'s refusal instead of waiting for a live view', async () => {
    const hub = await testHub({ tokens: TOKENS });
    await expect(recordHub(hub.url, { token: 'nope' })).rejects.toThrow(/unauthorized|unknown token/);
    await expect(recordHub(hub.url, { token: 'w' })).rejects.toThrow(/forbidden|may not read/);
  });

  it('lets the worker SDK in with a worker or admin token', async () => {
    const hub = await testHub({ tokens: TOKENS });
    const recording = await testRecording(hub, { token: 'a' });
    const worker = await testWorker(hub, { id: 'worker-token', token: 'w' });
    const admin = await testWorker(hub, { id: 'admin-token', token: 'a' });
    await recording.waitFor(worker.id, 'ready');
    await recording.waitFor(admin.id, 'ready');
  });

  it.each([
    ['a monitor token', 'm', 'forbidden'],
    ['a client token', 'c', 'forbidden'],
    ['an unknown token', 'nope', 'unauthorized'],
    ['no token', undefined, 'unauthorized'],
  ])('refuses the worker SDK with %s: ready() rejects and no worker appears', async (_name, token, code) => {
    const hub = await testHub({ tokens: TOKENS });
    await expect(testWorker(hub, { id: 'refused-worker', ...(token === undefined ? {} : { token }) })).rejects.toThrow(/refused/);
    const refusal = await refusedConnection(hub, '/worker', token === undefined ? {} : { token });
    expect(refusal.data).toEqual(expect.objectContaining({ code }));
    expect((await adminSnapshot(hub)).records).toEqual([]);
  });
});
