/**
 * Webhooks on one hub (memory store), against local endpoints that verify every signature: every
 * matching change is POSTed once, in offset order; a failing endpoint is retried and loses
 * nothing; one that keeps failing is paused with its reason and resumes from its cursor; a slow
 * one holds up nobody else.
 */
import { describe, expect, it } from 'vitest';
import type { Hub, LogEntry } from 'statehub';
import { api, submit, testHub, testWorker } from '../helpers/hub.js';
import { WebhookReceiver } from '../helpers/webhook-receiver.js';
import { changeMatcher } from '../../src/hub/webhooks/filter.js';
import type { WebhookFilter } from '../../machines/webhook.js';

const SECRET = 'a-test-secret-of-some-length';

async function register(hub: Hub, body: Record<string, unknown>): Promise<{ id: string; secret: string; record: any }> {
  const answer = await api(hub, 'POST', '/api/webhooks', body);
  if (answer.status !== 201) throw new Error(`registration failed: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body;
}

/** The changes after `since` a webhook with `filter` owes, read from the hub's own log. */
async function owed(hub: Hub, since: string, filter: WebhookFilter = {}): Promise<string[]> {
  const entries = (await hub.store.changesSince(since)) as LogEntry[];
  const matches = changeMatcher(filter);
  return entries.filter((entry) => matches(entry.record)).map((entry) => entry.offset);
}

async function webhook(hub: Hub, id: string): Promise<any> {
  return (await api(hub, 'GET', `/api/webhooks/${id}`)).body;
}

describe('webhooks', () => {
  it('POSTs every matching change once, in offset order, signed', async () => {
    const hub = await testHub();
    const receiver = await WebhookReceiver.start(SECRET);
    const { id, record } = await register(hub, { url: receiver.url, secret: SECRET, filter: { kinds: ['job'] } });
    expect(record).toMatchObject({ kind: 'webhook', state: 'active' });
    await testWorker(hub);
    const jobs = await Promise.all(Array.from({ length: 5 }, () => submit(hub, { type: 'simulation', payload: { durationMs: 10, steps: 2 } })));
    await receiver.until(() => jobs.every((job) => receiver.accepted.some((r) => r.record.id === job.id && r.record.state === 'completed')), 'every job completed');
    const expected = await owed(hub, record.snapshot.context.cursor, { kinds: ['job'] });
    await receiver.until(() => receiver.accepted.length >= expected.length, 'every change');
    expect(receiver.offsets()).toEqual(expected);
    expect(receiver.forged).toBe(0);
    expect(receiver.accepted.every((r) => r.webhook === id && r.record.kind === 'job')).toBe(true);
  });
});
