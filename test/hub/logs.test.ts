/**
 * What the hub's log must never show: tokens (Authorization headers, `?token=`, a socket's
 * auth.token) and what jobs carry (payloads, results), even in errors that hold them.
 */
import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import pino from 'pino';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startHub, type Hub } from 'statehub';
import { createWorker, type ConnectorImplementation } from 'statehub/worker';
import { MemoryStore } from '../../src/store/memory.js';
import type { Commit } from '../../src/store/store.js';
import { FAST_TIMINGS, api } from '../helpers/hub.js';
import { connectMonitor, refusedConnection } from '../helpers/streams.js';

/** A store whose first job assignment fails the way Redis fails: the error keeps its command's arguments (the records). */
class FailingOnceStore extends MemoryStore {
  failed = false;

  override async commit(commit: Commit) {
    if (!this.failed && commit.records.some((record) => record.kind === 'job' && record.state === 'assigned')) {
      this.failed = true;
      throw Object.assign(new Error('ERR simulated failure of a write'), {
        name: 'ReplyError',
        command: { name: 'evalsha', args: ['0123abcd', '1', 'statehub:log', JSON.stringify(commit.records)] },
      });
    }
    return super.commit(commit);
  }
}

const echo: ConnectorImplementation = {
  type: 'echo',
  async run(job) {
    return { echoed: job.payload };
  },
};

/** Reads the head of an SSE stream (so that the request was served), then leaves. */
function openEvents(hub: Hub, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(new URL(path, hub.url), (response) => {
      response.once('data', () => {
        response.destroy();
        resolve(response.statusCode ?? 0);
      });
    });
    request.on('error', reject);
    request.end();
  });
}

async function waitForState(hub: Hub, id: string, state: string, token: string): Promise<any> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const { body } = await api(hub, 'GET', `/api/jobs/${id}`, undefined, { authorization: `Bearer ${token}` });
    if (body.state === state) return body;
    if (Date.now() > deadline) throw new Error(`job ${id} is ${body.state}, not ${state}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('the hub log', () => {
  it('shows no token and no payload or result, also when an error carries them', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'trace' }, { write: (line: string) => void lines.push(line) });
    const secret = (role: string) => `${role}-token-${randomUUID()}`;
    const tokens = { admin: secret('admin'), monitor: secret('monitor'), worker: secret('worker') };
    const unknown = secret('unknown');
    const marker = `MARKER-${randomUUID()}`;

    const store = new FailingOnceStore();
    const hub = await startHub({
      port: 0,
      logger,
      store,
      timings: FAST_TIMINGS,
      tokens: { [tokens.admin]: 'admin', [tokens.monitor]: 'monitor', [tokens.worker]: 'worker' },
    });
    onTestFinished(async () => {
      await hub.close();
      await store.close();
    });
    const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

    // A worker with a token, logging through the hub's log as `statehub demo` does; one with a wrong token.
    const worker = createWorker({ hub: hub.url, machineId: 'log-machine', token: tokens.worker, connectors: [echo], log: (message) => hub.log.info(message) });
    onTestFinished(() => worker.stop());
    await worker.ready();
    expect((await refusedConnection(hub, '/worker', { token: unknown })).data?.code).toBe('unauthorized');
    // A monitor socket with a token, and an SSE stream with ?token=.
    (await connectMonitor(hub, { token: tokens.monitor })).close();
    expect(await openEvents(hub, `/api/events?token=${encodeURIComponent(tokens.monitor)}`)).toBe(200);

    // A job whose payload holds the marker: its first assignment fails (logged), a second job nudges dispatch.
    const submitted = await api(hub, 'POST', '/api/jobs', { type: 'echo', payload: { marker } }, bearer(tokens.admin));
    expect(submitted.status).toBe(201);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(store.failed).toBe(true);
    const nudge = await api(hub, 'POST', '/api/jobs', { type: 'echo', payload: { marker } }, bearer(tokens.admin));
    const done = await waitForState(hub, submitted.body.id, 'completed', tokens.admin);
    expect(JSON.stringify(done)).toContain(marker);
    await waitForState(hub, nudge.body.id, 'completed', tokens.admin);

    // Failing requests: a wrong token, a refused role, an invalid job and malformed JSON holding the marker.
    expect((await api(hub, 'GET', '/api/snapshot', undefined, bearer(unknown))).status).toBe(401);
    expect((await api(hub, 'GET', `/api/events?token=${unknown}`)).status).toBe(401);
    expect((await api(hub, 'POST', '/api/jobs', { type: 'echo' }, bearer(tokens.monitor))).status).toBe(403);
    expect((await api(hub, 'POST', '/api/jobs', { type: 7, payload: { marker } }, bearer(tokens.admin))).status).toBe(400);
    expect((await api(hub, 'POST', '/api/jobs', `{"type":"echo","payload":"${marker}`, bearer(tokens.admin))).status).toBe(400);

    await worker.stop();
    await hub.close();
    const output = lines.join('');
    // The log did get the start, the worker's lines and the failed write...
    expect(output).toContain('statehub hub listening on');
    expect(output).toMatch(/worker log-machine-\d+ registered with/);
    const failure = lines.map((line) => JSON.parse(line)).find((entry) => entry.err?.message === 'ERR simulated failure of a write');
    expect(failure?.err).toMatchObject({ type: 'Error', stack: expect.stringContaining('ERR simulated failure') });
    // ...and none of what it must not show.
    for (const token of [...Object.values(tokens), unknown]) expect(output).not.toContain(token);
    expect(output).not.toContain(marker);
    expect(output).not.toContain('statehub:log');
  });
});
