/**
 * What the hub's log must never show: tokens (Authorization headers, `?token=`, a socket's
 * auth.token) and what jobs carry (payloads, results), even in errors that hold them. And what it
 * must: each error on one line, with the actor it is about.
 */
import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startHub, type Hub } from 'statehub';
import { createWorker, simulationConnector, type ConnectorImplementation } from 'statehub/worker';
import { commandLogger, workerLog, type LogFormat } from '../../src/log.js';
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

/** A store whose first step acting on a due timer fails (a retry's backoff, here). */
class FailingTimerStore extends MemoryStore {
  failed = false;

  override async commit(commit: Commit) {
    if (!this.failed && commit.consumeTimer) {
      this.failed = true;
      throw new Error('ERR simulated failure of a timer step');
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
    // Its hub URL holds a password (a proxy's basic auth, say): the lines that name the hub do not show it.
    const password = secret('password');
    const worker = createWorker({ hub: hub.url.replace('http://', `http://statehub:${password}@`), machineId: 'log-machine', token: tokens.worker, connectors: [echo], log: workerLog(hub.log) });
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
    const entries = lines.map((line) => JSON.parse(line));
    expect(entries.find((entry) => /^worker log-machine-\d+ registered with/.test(entry.msg))).toMatchObject({ level: 30, workerId: worker.id });
    // The failed write is one line, saying what failed and for which worker.
    const failures = entries.filter((entry) => entry.err?.message === 'ERR simulated failure of a write');
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ level: 50, msg: `echo jobs could not be given to worker ${worker.id}`, workerId: worker.id, type: 'echo' });
    expect(failures[0].err).toMatchObject({ type: 'Error', stack: expect.stringContaining('ERR simulated failure') });
    // ...and none of what it must not show.
    for (const token of [...Object.values(tokens), unknown, password]) expect(output).not.toContain(token);
    expect(output).not.toContain(marker);
    expect(output).not.toContain('statehub:log');
  });
});

describe('errors in the log', () => {
  for (const format of ['json', 'pretty'] as LogFormat[]) {
    it(`${format}: a failed step is one line naming its actor; a failed attempt on a worker is one line naming the job and connector, not what it said`, async () => {
      let text = '';
      const destination = new Writable({
        write(chunk, _encoding, done) {
          text += String(chunk);
          done();
        },
      });
      const store = new FailingTimerStore();
      const hub = await startHub({ port: 0, logger: commandLogger(format, 'info', destination), store, timings: FAST_TIMINGS });
      onTestFinished(async () => {
        await hub.close();
        await store.close();
      });
      const worker = createWorker({ hub: hub.url, machineId: 'log-machine', connectors: [simulationConnector({ startupMs: 1 })], log: workerLog(hub.log) });
      onTestFinished(() => worker.stop());
      await worker.ready();
      const marker = `MARKER-${randomUUID()}`;
      const submitted = await api(hub, 'POST', '/api/jobs', { type: 'simulation', backoffMs: 10, payload: { durationMs: 1, steps: 0, failTimes: 1, failWith: `out of memory near ${marker}` } });
      // Its retry's backoff timer fails once (logged), and fires again on the next tick.
      const deadline = Date.now() + 10_000;
      while ((await api(hub, 'GET', `/api/jobs/${submitted.body.id}`)).body.state !== 'completed') {
        if (Date.now() > deadline) throw new Error(`the job did not complete; the log:\n${text}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(store.failed).toBe(true);
      const lines = text.split('\n').filter(Boolean);
      const id = submitted.body.id as string;
      const timer = lines.filter((line) => line.includes('simulated failure of a timer step'));
      const attempt = lines.filter((line) => line.includes(`job ${id} failed its attempt 1`));
      expect(timer).toHaveLength(1);
      expect(attempt).toHaveLength(1);
      if (format === 'json') {
        expect(JSON.parse(timer[0]!)).toMatchObject({ level: 50, msg: 'timer xstate.after.retryBackoff.job.retrying failed', actorId: id, err: { type: 'Error', stack: expect.any(String) } });
        expect(JSON.parse(attempt[0]!)).toMatchObject({ level: 40, msg: `job ${id} failed its attempt 1: its record says why`, jobId: id, workerId: worker.id, connectorId: `${worker.id}/simulation-1` });
      } else {
        expect(timer[0]).toMatch(new RegExp(`ERROR: timer xstate\\.after\\.retryBackoff\\.job\\.retrying failed: Error: ERR simulated failure of a timer step \\(at .+\\) \\{"actorId":"${id}"\\}$`));
        expect(attempt[0]).toMatch(new RegExp(`WARN: job ${id} failed its attempt 1: its record says why \\{"workerId":"${worker.id}","jobId":"${id}","connectorId":"${worker.id}/simulation-1"\\}$`));
        // No line goes on over several (a stack, an object printed over lines).
        for (const line of lines) expect(line).toMatch(/^\[\d{2}:\d{2}:\d{2}\.\d{3}\] [A-Z]+: /);
      }
      // The connector's message (which may quote what a service answered) is in the job's record, not the log.
      expect((await api(hub, 'GET', `/api/jobs/${id}/history`)).body.entries.some((entry: { record: { snapshot: { context: { error: { message: string } | null } } } }) => entry.record.snapshot.context.error?.message.includes(marker))).toBe(true);
      expect(text).not.toContain(marker);
    });
  }
});
