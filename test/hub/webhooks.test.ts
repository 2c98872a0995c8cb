/**
 * Webhooks on one hub (memory store), against local endpoints that verify every signature: every
 * matching change is POSTed once, in offset order; a failing endpoint is retried and loses
 * nothing; one that keeps failing is paused with its reason and resumes from its cursor; a slow
 * one holds up nobody else. Monitors see the webhooks' records like any other actor's.
 */
import { describe, expect, it } from 'vitest';
import type { Hub, LogEntry } from 'statehub';
import type { HubRecording } from 'statehub/testing';
import { api, submit, testHub, testRecording, testWorker } from '../helpers/hub.js';
import { WebhookReceiver } from '../helpers/webhook-receiver.js';
import { changeMatcher } from '../../src/hub/webhooks/filter.js';
import { MemoryStore } from '../../src/store/memory.js';
import type { WebhookFilter } from '../../machines/webhook.js';

const SECRET = 'a-test-secret-of-some-length';
/** Rounds that end within a test's patience: a 500 ms POST timeout, a 2 s lease, a look every 200 ms. */
const FAST_WEBHOOKS = { leaseMs: 2_000, pollMs: 200, timeoutMs: 500 };

async function hubWithWebhooks(options: Parameters<typeof testHub>[0] = {}): Promise<{ hub: Hub; recording: HubRecording }> {
  const hub = await testHub({ webhooks: FAST_WEBHOOKS, ...options });
  return { hub, recording: await testRecording(hub) };
}

async function register(hub: Hub, body: Record<string, unknown>): Promise<{ id: string; secret: string; record: any }> {
  const answer = await api(hub, 'POST', '/api/webhooks', { secret: SECRET, backoffMs: 20, ...body });
  if (answer.status !== 201) throw new Error(`registration failed: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body;
}

/** The offsets of the changes after `since` that a webhook with `filter` owes, read from the hub's own log. */
async function owed(hub: Hub, since: string, filter: WebhookFilter = {}): Promise<string[]> {
  const entries = (await hub.store.changesSince(since)) as LogEntry[];
  const matches = changeMatcher(filter);
  return entries.filter((entry) => matches(entry.record)).map((entry) => entry.offset);
}

/** Jobs nobody runs: each submission is one change. */
async function pendingJobs(hub: Hub, count: number, type = 'unserved'): Promise<void> {
  const answer = await api(hub, 'POST', '/api/jobs/batch', { jobs: Array.from({ length: count }, () => ({ type })) });
  expect(answer.status).toBe(201);
}

const cursorOf = (record: any): string => record.snapshot.context.cursor;

describe('webhooks: delivery', () => {
  it('POSTs every matching change once, in offset order, signed, and never a webhook change', async () => {
    const { hub, recording } = await hubWithWebhooks();
    const everything = await WebhookReceiver.start(SECRET);
    const completions = await WebhookReceiver.start(SECRET);
    const topology = await WebhookReceiver.start(SECRET);
    const filters: Record<string, WebhookFilter> = { all: {}, done: { jobTypes: ['simulation'], states: ['completed'] }, hosts: { kinds: ['worker', 'connector', 'machine'] } };
    const all = await register(hub, { url: everything.url, filter: filters.all });
    const done = await register(hub, { url: completions.url, filter: filters.done });
    const hosts = await register(hub, { url: topology.url, filter: filters.hosts });
    const worker = await testWorker(hub, { simulations: 2 });
    await Promise.all(Array.from({ length: 6 }, () => submit(hub, { type: 'simulation', payload: { durationMs: 10, steps: 2 } })));
    await pendingJobs(hub, 2, 'other');
    await completions.until(() => completions.accepted.length >= 6, 'six completions');
    await worker.stop();

    for (const [receiver, registration, filter] of [
      [everything, all, filters.all],
      [completions, done, filters.done],
      [topology, hosts, filters.hosts],
    ] as const) {
      const expected = await owed(hub, cursorOf(registration.record), filter);
      await receiver.until(() => receiver.accepted.length >= expected.length, `${expected.length} changes for ${registration.id}`);
      // The worker's last changes may still be coming: what came is what was owed, in order, none twice.
      const got = receiver.offsets();
      expect(got).toEqual((await owed(hub, cursorOf(registration.record), filter)).slice(0, got.length));
      expect(receiver.forged).toBe(0);
      expect(receiver.accepted.every((received) => received.webhook === registration.id && received.record.kind !== 'webhook')).toBe(true);
    }
    expect(completions.accepted.map((received) => received.record.state)).toEqual(Array(6).fill('completed'));
    expect(new Set(topology.accepted.map((received) => received.record.kind))).toEqual(new Set(['worker', 'connector', 'machine']));
    // A change POSTed is the change as the log holds it.
    const [firstJob] = everything.accepted.filter((received) => received.record.kind === 'job');
    expect((await hub.store.changesSince(cursorOf(all.record)))?.find((entry) => entry.offset === firstJob!.offset)?.record).toEqual(firstJob!.record);

    // The round's outcome is committed once its last POST was answered.
    const state = await recording.waitFor(all.id, (record) => record.state === 'active' && (record.snapshot.context as any).delivered === everything.accepted.length);
    expect(state.snapshot.context).toMatchObject({ failures: 0, consecutiveFailures: 0, reason: null, last: { ok: true, status: 204, error: null } });
  });

  it('retries a failing endpoint with backoff and loses nothing: no gap, no reorder', async () => {
    const { hub, recording } = await hubWithWebhooks();
    const receiver = await WebhookReceiver.start(SECRET);
    let answered = 0;
    // Down for its first four requests, then up.
    receiver.answer = () => (++answered <= 4 ? 500 : 204);
    const { id, record } = await register(hub, { url: receiver.url, filter: { kinds: ['job'] } });
    await pendingJobs(hub, 3);
    await recording.waitFor(id, 'retrying');
    await pendingJobs(hub, 3);
    const expected = await owed(hub, cursorOf(record), { kinds: ['job'] });
    await receiver.until(() => receiver.accepted.length >= expected.length, 'every change');
    expect(receiver.offsets()).toEqual(expected);
    // Each failed POST carried the first change owed: the same one, again.
    expect(receiver.attempts.slice(0, 4).map((attempt) => attempt.offset)).toEqual(Array(4).fill(expected[0]));

    const { deliveries } = (await api(hub, 'GET', `/api/webhooks/${id}/deliveries`)).body;
    const failed = deliveries.filter((entry: any) => entry.event === 'FAILED');
    expect(failed).toHaveLength(4);
    expect(failed[0]).toMatchObject({ state: 'retrying', outcome: { ok: false, status: 500, error: 'HTTP 500 Internal Server Error', offset: expected[0], delivered: 0 } });
    // A failed round keeps the change it failed on owed: the cursor stays before it.
    expect(hub.store.compareOffsets(failed[0].cursor, expected[0]!)).toBeLessThan(0);
    expect(deliveries.at(-1)).toMatchObject({ event: 'DELIVERED', state: 'active', outcome: { ok: true, status: 204, last: expected.at(-1) } });
    const webhook = await recording.waitFor(id, (current) => current.state === 'active' && (current.snapshot.context as any).delivered === expected.length);
    expect(webhook.snapshot.context).toMatchObject({ failures: 4, consecutiveFailures: 0 });
    recording.expect(id, 'active > delivering > retrying > delivering > retrying > delivering > retrying > delivering > retrying > delivering > active', { prefix: true });
  });

  it('pauses an endpoint that keeps failing, says why, and resumes from the last change it delivered', async () => {
    const { hub, recording } = await hubWithWebhooks();
    const receiver = await WebhookReceiver.start(SECRET);
    let up = true;
    receiver.answer = () => (up ? 204 : 503);
    const { id, record } = await register(hub, { url: receiver.url, maxFailures: 3, filter: { kinds: ['job'] } });
    await pendingJobs(hub, 2);
    await receiver.until(() => receiver.accepted.length === 2, 'the first two changes');
    up = false;
    await pendingJobs(hub, 2);
    const paused = await recording.waitFor(id, 'paused');
    const delivered = receiver.offsets();
    expect(paused.snapshot.context).toMatchObject({ consecutiveFailures: 3, delivered: 2, last: { ok: false, status: 503 } });
    // Its cursor is past the changes it delivered, before the one it failed on.
    const { cursor } = paused.snapshot.context as any;
    expect(hub.store.compareOffsets(cursor, delivered.at(-1)!)).toBeGreaterThanOrEqual(0);
    expect(hub.store.compareOffsets(cursor, (paused.snapshot.context as any).last.offset)).toBeLessThan(0);
    expect((paused.snapshot.context as any).reason).toBe('3 rounds in a row failed (the last: HTTP 503 Service Unavailable); resume it once the endpoint is fixed');
    const { deliveries } = (await api(hub, 'GET', `/api/webhooks/${id}/deliveries`)).body;
    expect(deliveries.at(-1)).toMatchObject({ event: 'FAILED', state: 'paused', reason: (paused.snapshot.context as any).reason });

    // Paused, it is told nothing: changes wait behind its cursor.
    await pendingJobs(hub, 2);
    expect((await api(hub, 'GET', `/api/webhooks/${id}`)).body.state).toBe('paused');
    up = true;
    const resumed = await api(hub, 'POST', `/api/webhooks/${id}/resume`);
    expect(resumed.status).toBe(200);
    expect(resumed.body).toMatchObject({ state: 'active', snapshot: { context: { reason: null, consecutiveFailures: 0, cursor } } });
    const expected = await owed(hub, cursorOf(record), { kinds: ['job'] });
    await receiver.until(() => receiver.accepted.length >= expected.length, 'every change');
    expect(receiver.offsets()).toEqual(expected);
    expect((await api(hub, 'POST', `/api/webhooks/${id}/resume`)).status).toBe(409);
  });

  it('pauses when the changes it owes were trimmed from the log, and goes on from the end only when told', async () => {
    // A log of 10 changes (trimmed in chunks of 1,000): 2,000 changes while paused are too many.
    const { hub, recording } = await hubWithWebhooks({ store: new MemoryStore({ logLimit: 10 }) });
    const receiver = await WebhookReceiver.start(SECRET);
    let up = false;
    receiver.answer = () => (up ? 204 : 500);
    const { id } = await register(hub, { url: receiver.url, maxFailures: 1 });
    await pendingJobs(hub, 1);
    await recording.waitFor(id, 'paused');
    await pendingJobs(hub, 1_000);
    await pendingJobs(hub, 1_000);
    up = true;
    expect((await api(hub, 'POST', `/api/webhooks/${id}/resume`)).status).toBe(200);
    const trimmed = await recording.waitFor(id, (record) => record.state === 'paused' && String((record.snapshot.context as any).reason).startsWith('changes were trimmed'));
    expect((trimmed.snapshot.context as any).reason).toContain('resume with {"from":"now"}');
    expect(receiver.accepted).toEqual([]);

    const resumed = await api(hub, 'POST', `/api/webhooks/${id}/resume`, { from: 'now' });
    expect(resumed.status).toBe(200);
    await pendingJobs(hub, 1);
    const expected = await owed(hub, cursorOf(resumed.body));
    await receiver.until(() => receiver.accepted.length >= expected.length && expected.length > 0, 'the change after the resume');
    expect(receiver.offsets()).toEqual(expected);
    const events = (await api(hub, 'GET', `/api/webhooks/${id}/deliveries`)).body.deliveries.map((entry: any) => entry.event);
    expect(events).toEqual(['FAILED', 'RESUME', 'PAUSE', 'RESUME', 'DELIVERED']);
  });

  it('lets a slow endpoint hold up no other', async () => {
    const { hub } = await hubWithWebhooks();
    const slow = await WebhookReceiver.start(SECRET);
    const fast = await WebhookReceiver.start(SECRET);
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    // Slower than the POST timeout, until released.
    slow.answer = () => released.then(() => 204);
    const slowHook = await register(hub, { url: slow.url, maxFailures: 1_000, filter: { kinds: ['job'] } });
    const fastHook = await register(hub, { url: fast.url, filter: { kinds: ['job'] } });
    await pendingJobs(hub, 5);
    await pendingJobs(hub, 5);
    const expected = await owed(hub, cursorOf(fastHook.record), { kinds: ['job'] });
    await fast.until(() => fast.accepted.length >= expected.length, 'every change at the fast endpoint');
    expect(fast.offsets()).toEqual(expected);
    expect(slow.accepted).toEqual([]);
    release();
    await slow.until(() => slow.accepted.length >= expected.length, 'every change at the slow endpoint');
    expect(slow.offsets()).toEqual(await owed(hub, cursorOf(slowHook.record), { kinds: ['job'] }));
  });

  it('says why a POST failed: a redirect is not followed, an endpoint that does not answer times out, a closed port refuses', async () => {
    const { hub, recording } = await hubWithWebhooks();
    const redirecting = await WebhookReceiver.start(SECRET);
    redirecting.answer = () => 302;
    const silent = await WebhookReceiver.start(SECRET);
    silent.answer = () => new Promise<number>(() => {});
    const closed = await WebhookReceiver.start(SECRET);
    await closed.close();
    const hooks = await Promise.all([redirecting, silent, closed].map((receiver) => register(hub, { url: receiver.url, maxFailures: 1 })));
    await pendingJobs(hub, 1);
    const reasons = await Promise.all(hooks.map(async ({ id }) => ((await recording.waitFor(id, 'paused')).snapshot.context as any).last.error));
    expect(reasons[0]).toBe('HTTP 302: redirects are not followed');
    expect(reasons[1]).toBe('no answer within 500 ms');
    expect(reasons[2]).toMatch(/ECONNREFUSED/);
    expect(redirecting.accepted).toEqual([]);
  });
});

describe('webhooks: registration and management', () => {
  it('refuses a bad registration with 400 saying what is wrong', async () => {
    const { hub } = await hubWithWebhooks();
    const refusals: Array<[Record<string, unknown>, RegExp]> = [
      [{ url: 'ftp://example.com/hook' }, /url: the URL must be http or https, not ftp/],
      [{ url: 'not a url' }, /url: "not a url" is not a URL/],
      [{ url: 'http://user:password@example.com/hook' }, /url: the URL must not carry credentials/],
      [{ url: 'http://example.com/hook', filter: { kinds: ['webhook'] } }, /filter\.kinds\[0\]: webhooks are not told of webhooks/],
      [{ url: 'http://example.com/hook', filter: { kinds: ['job'], states: ['complete'] } }, /filter\.states: no job is ever complete/],
      [{ url: 'http://example.com/hook', filter: { kinds: ['worker'], jobTypes: ['render'] } }, /filter\.jobTypes: jobTypes selects jobs, and kinds leaves jobs out/],
      [{ url: 'http://example.com/hook', filter: { colour: 'red' } }, /filter: Unrecognized key/],
      [{ url: 'http://example.com/hook', secret: 'short' }, /secret: a secret is at least 16 characters/],
      [{ url: 'http://example.com/hook', timeoutMs: 1_500 }, /timeoutMs 1500 is over half the hub's webhook lease \(2000 ms\)/],
      [{ url: 'http://example.com/hook', since: 'not-an-offset' }, /since: the changes after not-an-offset are not all held/],
      [{ filter: {} }, /url: /],
    ];
    for (const [body, message] of refusals) {
      const answer = await api(hub, 'POST', '/api/webhooks', body);
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(answer.body.error.code).toBe('bad_request');
      expect(answer.body.error.message, JSON.stringify(body)).toMatch(message);
    }
    expect((await api(hub, 'GET', '/api/webhooks')).body).toEqual({ webhooks: [] });
  });

  it('keeps the secret out of everything monitors and operators read; a made-up one is given once', async () => {
    const { hub, recording } = await hubWithWebhooks();
    const receiver = await WebhookReceiver.start('not known yet');
    const answer = await api(hub, 'POST', '/api/webhooks', { url: receiver.url, description: 'the billing service' });
    expect(answer.status).toBe(201);
    const { id, secret } = answer.body;
    expect(secret).toMatch(/^whsec_[A-Za-z0-9_-]{32}$/);
    receiver.secret = secret;
    await pendingJobs(hub, 1);
    await receiver.until(() => receiver.accepted.length === 1, 'a change signed with the made-up secret');
    expect(receiver.forged).toBe(0);
    const read = await Promise.all(
      ['/api/snapshot', '/api/webhooks', `/api/webhooks/${id}`, `/api/actors/${id}/history`, `/api/webhooks/${id}/deliveries`].map(async (path) => JSON.stringify((await api(hub, 'GET', path)).body)),
    );
    for (const text of [...read, JSON.stringify(recording.records(id))]) expect(text).not.toContain(secret);
    expect(JSON.parse(read[2]!)).toMatchObject({ kind: 'webhook', snapshot: { context: { url: receiver.url, description: 'the billing service' } } });
  });

  it('lists, reads and deletes webhooks; a deleted one is told nothing more and keeps its delivery log', async () => {
    const { hub } = await hubWithWebhooks();
    const deleted = await WebhookReceiver.start(SECRET);
    const witness = await WebhookReceiver.start(SECRET);
    const gone = await register(hub, { url: deleted.url, filter: { kinds: ['job'] } });
    const kept = await register(hub, { url: witness.url, filter: { kinds: ['job'] } });
    expect((await api(hub, 'GET', '/api/webhooks')).body.webhooks.map((record: any) => record.id)).toEqual([gone.id, kept.id].sort());
    await pendingJobs(hub, 1);
    await deleted.until(() => deleted.accepted.length === 1, 'the first change');

    expect((await api(hub, 'DELETE', `/api/actors/${gone.id}`)).body.error.message).toBe(`delete webhook ${gone.id} with DELETE /api/webhooks/${gone.id}: its secret goes with it`);
    const removal = await api(hub, 'DELETE', `/api/webhooks/${gone.id}`);
    expect(removal.status).toBe(200);
    expect(removal.body).toMatchObject({ id: gone.id, removed: true });
    expect(await hub.store.getSecret(gone.id)).toBeUndefined();
    expect((await api(hub, 'DELETE', `/api/webhooks/${gone.id}`)).status).toBe(404);
    expect((await api(hub, 'GET', '/api/webhooks')).body.webhooks.map((record: any) => record.id)).toEqual([kept.id]);
    expect((await api(hub, 'GET', `/api/webhooks/${gone.id}`)).body).toMatchObject({ removed: true });
    expect((await api(hub, 'GET', `/api/webhooks/${gone.id}/deliveries`)).body.deliveries.filter((entry: any) => entry.event === 'DELIVERED')).toHaveLength(1);

    await pendingJobs(hub, 1);
    await witness.until(() => witness.accepted.length === 2, 'the change after the deletion, at the witness');
    expect(deleted.attempts).toHaveLength(1);
    expect((await api(hub, 'GET', '/api/webhooks/job_nope/deliveries')).status).toBe(404);
  });

  it('lets admins manage webhooks and monitors read them', async () => {
    const hub = await testHub({ webhooks: FAST_WEBHOOKS, tokens: { a: 'admin', m: 'monitor', c: 'client' } });
    const as = (token: string, method: string, path: string, body?: unknown) => api(hub, method, path, body, { authorization: `Bearer ${token}` });
    const body = { url: 'http://127.0.0.1:9/hook', secret: SECRET };
    expect((await as('m', 'POST', '/api/webhooks', body)).status).toBe(403);
    expect((await as('c', 'POST', '/api/webhooks', body)).status).toBe(403);
    expect((await api(hub, 'POST', '/api/webhooks', body)).status).toBe(401);
    const created = await as('a', 'POST', '/api/webhooks', body);
    expect(created.status).toBe(201);
    const { id } = created.body;
    expect((await as('m', 'GET', '/api/webhooks')).status).toBe(200);
    expect((await as('m', 'GET', `/api/webhooks/${id}/deliveries`)).status).toBe(200);
    expect((await as('m', 'POST', `/api/webhooks/${id}/resume`)).status).toBe(403);
    expect((await as('m', 'DELETE', `/api/webhooks/${id}`)).status).toBe(403);
    expect((await as('a', 'DELETE', `/api/webhooks/${id}`)).status).toBe(200);
  });
});
