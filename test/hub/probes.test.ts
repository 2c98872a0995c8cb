/**
 * Probe actors against this machine's real services (PostgreSQL, Redis, RabbitMQ, Mosquitto and
 * NATS on their standard loopback ports), local HTTP and TCP servers of the test's own, and a
 * closed port. Every wait is on a condition the records show; nothing is timed.
 */
import { createServer as createHttpServer, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { MemoryStore, startHub, type ActorRecord } from 'statehub';
import type { ProbeContext } from 'statehub/machines';
import { probeTargets } from '../../src/hub/probes/config.js';
import { api, testHub, testRecording } from '../helpers/hub.js';
import { freePort } from '../helpers/redis.js';

const context = (record: ActorRecord) => record.snapshot.context as unknown as ProbeContext;

/** The services this machine runs (see the README's test section). */
const SERVICES = {
  redis: 'redis://127.0.0.1:6379',
  postgres: 'postgres://postgres@127.0.0.1:5432/postgres',
  amqp: 'amqp://guest:guest@127.0.0.1:5672',
  mqtt: 'mqtt://127.0.0.1:1883',
  nats: 'nats://127.0.0.1:4222',
};

/** An HTTP server of the test's own on a free port; `answer` handles every request. */
async function httpServer(answer: (response: ServerResponse) => void): Promise<{ url: string; server: HttpServer; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createHttpServer((_request, response) => answer(response));
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, sockets };
}

async function tcpServer(port: number): Promise<TcpServer> {
  const server = createTcpServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return server;
}

describe('probes of real services', () => {
  // First: no earlier test's keep-alive connection can close meanwhile and hide one left open.
  it('closes every connection it opened when the hub closes', async () => {
    const sockets = () => process.getActiveResourcesInfo().filter((resource) => resource === 'TCPSocketWrap').length;
    const before = sockets();
    const hub = await startHub({ port: 0, logger: false, probes: { probes: Object.values(SERVICES) } });
    const recording = await testRecording(hub);
    for (const url of Object.values(SERVICES)) await recording.waitFor(`probe:${url.replace(/\/\/[^@]*@/, '//')}`, 'healthy');
    recording.close();
    await hub.close();
    const deadline = Date.now() + 10_000;
    while (sockets() > before && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(sockets()).toBeLessThanOrEqual(before);
  });

  it('checks the store and every configured service: healthy with latency and answer, the closed port unhealthy', async () => {
    const closed = await freePort();
    const http = await httpServer((response) => response.end('ok'));
    const hub = await testHub({ probeStore: true, probes: { probes: [...Object.values(SERVICES), `${http.url}/minio/health/live`, `tcp://127.0.0.1:${closed}`] } });
    const recording = await testRecording(hub);
    const expected: Record<string, [state: string, message: string | RegExp]> = {
      'probe:store': ['healthy', 'the memory store answered'],
      'probe:redis://127.0.0.1:6379': ['healthy', 'PONG'],
      'probe:postgres://127.0.0.1:5432/postgres': ['healthy', 'SELECT 1 answered'],
      'probe:amqp://127.0.0.1:5672': ['healthy', 'channel opened and closed'],
      'probe:mqtt://127.0.0.1:1883': ['healthy', 'PINGRESP'],
      'probe:nats://127.0.0.1:4222': ['healthy', 'PONG'],
      [`probe:${http.url}/minio/health/live`]: ['healthy', 'HTTP 200'],
      [`probe:tcp://127.0.0.1:${closed}`]: ['unhealthy', /ECONNREFUSED/],
    };
    for (const [id, [state, message]] of Object.entries(expected)) {
      const record = await recording.waitFor(id, (probe) => probe.state !== 'unknown');
      expect(record.state, `${id}: ${context(record).message}`).toBe(state);
      expect(context(record).message).toMatch(message);
      expect(context(record)).toMatchObject({ intervalMs: 1_000, timeoutMs: 1_000, degradedMs: 500, reportEveryMs: 10_000 });
      // A check that failed did not answer: it has no latency.
      if (state === 'healthy') expect(context(record).latencyMs).toBeGreaterThanOrEqual(0);
      else expect(context(record).latencyMs).toBeNull();
      expect(Date.parse(context(record).freshUntil as string)).toBeGreaterThan(Date.parse(context(record).checkedAt as string));
    }
    const { records } = (await api(hub, 'GET', '/api/snapshot?kinds=probe')).body;
    expect(records.map((record: ActorRecord) => record.id).sort()).toEqual(Object.keys(expected).sort());
    // Credentials stay in the hub: the target says a password is set, no record or message holds it.
    const amqp = records.find((record: ActorRecord) => record.id === 'probe:amqp://127.0.0.1:5672');
    expect(context(amqp).target).toBe('amqp://guest:***@127.0.0.1:5672');
    expect(JSON.stringify(records)).not.toMatch(/guest:guest/);
    expect(context(records.find((record: ActorRecord) => record.id.startsWith('probe:tcp'))).failures).toBeGreaterThanOrEqual(1);
  });

  it('fails a check on an unexpected status or body, and on a service that never answers (at its timeout, its connection closed)', async () => {
    const failing = await httpServer((response) => {
      response.statusCode = 503;
      response.end('starting');
    });
    const wrongBody = await httpServer((response) => response.end('{"status":"starting"}'));
    const hung = await httpServer(() => {});
    const hub = await testHub({
      probes: {
        // Renewed at every check, so that the recorded failures count each one.
        defaults: { intervalMs: 300, reportEveryMs: 300 },
        probes: [
          `${failing.url}/health`,
          { url: `${failing.url}/health`, name: 'accepts-503', expectStatus: [200, 503] },
          { url: `${wrongBody.url}/health`, expectBody: '"status":"ready"' },
          `${hung.url}/health`,
        ],
      },
    });
    const recording = await testRecording(hub);
    const outcome = async (id: string) => recording.waitFor(id, (probe) => probe.state !== 'unknown');
    expect(context(await outcome(`probe:${failing.url}/health`))).toMatchObject({ message: 'HTTP 503, expected 2xx' });
    expect((await outcome('probe:accepts-503')).state).toBe('healthy');
    expect(context(await outcome(`probe:${wrongBody.url}/health`)).message).toBe('HTTP 200 without "\\"status\\":\\"ready\\"" in its body');
    const timedOut = await outcome(`probe:${hung.url}/health`);
    expect(timedOut.state).toBe('unhealthy');
    expect(context(timedOut).message).toBe('no answer within 300 ms');
    expect(context(timedOut).latencyMs).toBeNull();
    // A timed-out connection is dropped, not asked again: at most the check under way holds one.
    await recording.until(() => (context(recording.view.get(`probe:${hung.url}/health`)!).failures ?? 0) >= 3, 'three failed checks in a row');
    expect(hung.sockets.size).toBeLessThanOrEqual(1);
  });

  it('degraded when slower than its threshold; unhealthy while the port is closed and healthy again once something listens', async () => {
    const slow = await httpServer((response) => setTimeout(() => response.end('ok'), 60));
    const port = await freePort();
    const hub = await testHub({
      probes: { defaults: { intervalMs: 200 }, probes: [{ url: slow.url, degradedMs: 20 }, `tcp://127.0.0.1:${port}`] },
    });
    const recording = await testRecording(hub);
    const degraded = await recording.waitFor(`probe:${slow.url}`, 'degraded');
    expect(context(degraded).latencyMs).toBeGreaterThanOrEqual(60);
    const id = `probe:tcp://127.0.0.1:${port}`;
    await recording.waitFor(id, 'unhealthy');
    await tcpServer(port);
    const back = await recording.waitFor(id, 'healthy');
    expect(context(back)).toMatchObject({ message: 'connected', failures: 0 });
    // (the recording may have started after the first check)
    expect(recording.states(id).slice(-2)).toEqual(['unhealthy', 'healthy']);
  });

  it('writes a record when the state changes and to renew it, not for every check', async () => {
    const store = new MemoryStore();
    let checks = 0;
    const commit = store.commit.bind(store);
    store.commit = async (args) => {
      const entries = await commit(args);
      if (args.consumeTimer?.key.startsWith('probe:tcp:')) checks += 1;
      return entries;
    };
    const port = await freePort();
    const hub = await testHub({ store, probes: { defaults: { intervalMs: 100, reportEveryMs: 1_000 }, probes: [`tcp://127.0.0.1:${port}`] } });
    const recording = await testRecording(hub);
    const id = `probe:tcp://127.0.0.1:${port}`;
    // Two renewals after the change to unhealthy.
    await recording.waitFor(id, (record) => record.seq >= 4, { timeoutMs: 20_000 });
    const { entries } = (await api(hub, 'GET', `/api/actors/${encodeURIComponent(id)}/history`)).body as { entries: Array<{ record: ActorRecord; event: { type: string } }> };
    expect(entries.map((entry) => entry.event.type)).toEqual(['xstate.init', ...entries.slice(1).map(() => 'CHECKED')]);
    for (let index = 2; index < entries.length; index++) {
      const [before, after] = [entries[index - 1]!.record, entries[index]!.record];
      // Each change after the first verdict is a renewal: the same state, reportEveryMs or more after the last recorded check.
      expect(after.state).toBe(before.state);
      expect(Date.parse(context(after).checkedAt!) - Date.parse(context(before).checkedAt!)).toBeGreaterThanOrEqual(1_000);
    }
    expect(checks).toBeGreaterThan(entries.length);
    // A check's effect asks for no records: the recorded failures count every check.
    expect(context(entries.at(-1)!.record).failures).toBeGreaterThan(entries.length);
  });

  it('serves the probe machine at GET /api/machines/probe, the one that made the records', async () => {
    const hub = await testHub({ probeStore: true });
    const recording = await testRecording(hub);
    const store = await recording.waitFor('probe:store', 'healthy');
    const { status, body } = await api(hub, 'GET', `/api/machines/probe?version=${store.version}`);
    expect(status).toBe(200);
    expect(body.root.states.map((state: { key: string }) => state.key)).toEqual(['unknown', 'healthy', 'degraded', 'unhealthy']);
  });

});

describe('the probes configuration', () => {
  it('derives ids from URLs without credentials, keeps the password out of the target, and applies defaults in order', () => {
    const targets = probeTargets(
      {
        defaults: { intervalMs: 2_000, degradedMs: 50 },
        store: { degradedMs: 5 },
        probes: ['postgres://app:secret@db.internal:5432/app?sslmode=require', { url: 'https://s3.example/minio/health/live', name: 's3', timeoutMs: 500, expectStatus: 200 }],
      },
      'redis',
    );
    expect(targets.map((target) => [target.id, target.settings])).toEqual([
      ['probe:store', { target: 'redis store', intervalMs: 2_000, timeoutMs: 2_000, degradedMs: 5, reportEveryMs: 10_000 }],
      ['probe:postgres://db.internal:5432/app', { target: 'postgres://app:***@db.internal:5432/app', intervalMs: 2_000, timeoutMs: 2_000, degradedMs: 50, reportEveryMs: 10_000 }],
      ['probe:s3', { target: 'https://s3.example/minio/health/live', intervalMs: 2_000, timeoutMs: 500, degradedMs: 50, reportEveryMs: 10_000 }],
    ]);
    expect(targets[2]?.expectStatus).toEqual([200]);
  });

  it('refuses what it cannot run, naming the probe', async () => {
    const refusals: Array<[unknown, RegExp]> = [
      [{ probes: ['ftp://files.example'] }, /cannot check ftp:\/\/ URLs/],
      [{ probes: ['tcp://127.0.0.1'] }, /names no port/],
      [{ probes: ['not a url'] }, /is not a URL/],
      [{ probes: ['redis://a:6379', 'redis://a:6379'] }, /two probes have the id probe:redis:\/\/a:6379/],
      [{ probes: [{ url: 'redis://a:6379', intervalMs: 500, timeoutMs: 1_000 }] }, /timeoutMs \(1000\) is longer than intervalMs \(500\)/],
      [{ probes: [{ url: 'redis://a:6379', degradedMS: 5 }] }, /degradedMS/],
    ];
    for (const [config, message] of refusals) {
      expect(() => probeTargets(config as never, 'memory')).toThrow(message);
    }
    await expect(startHub({ port: 0, logger: false, probes: { probes: ['ftp://files.example'] } })).rejects.toThrow(/cannot check ftp/);
  });
});
