/**
 * Rate and memory limits: a client that floods the hub is told so (429, or a `rate_limited`
 * answer on a socket) while the others are served, and a reader that does not read is cut off
 * instead of growing the hub's memory.
 */
import { describe, expect, it } from 'vitest';
import { io } from 'socket.io-client';
import type { Hub } from 'statehub';
import { api, submit, testHub } from '../helpers/hub.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { connectMonitor } from '../helpers/streams.js';

describe('HTTP rate limit (--http-rate-limit)', () => {
  it('answers 429 with Retry-After once a client is over its requests per second, changes nothing, and counts each token apart', async () => {
    const hub = await testHub({ httpRateLimit: 5, tokens: { alice: 'client', bob: 'client' } });
    const as = (token: string) => ({ authorization: `Bearer ${token}` });
    const answers = [];
    for (let index = 0; index < 6; index++) answers.push(await api(hub, 'GET', '/api/snapshot', undefined, as('alice')));
    expect(answers.slice(0, 5).map((answer) => answer.status)).toEqual([200, 200, 200, 200, 200]);
    const limited = answers[5]!;
    expect(limited.status).toBe(429);
    expect(limited.body.error).toMatchObject({ code: 'rate_limited', message: expect.stringMatching(/^more than 5 requests per second from this client; retry in /) });
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    const refused = await api(hub, 'POST', '/api/jobs', { type: 'x' }, as('alice'));
    expect(refused.status).toBe(429);
    // Another client's budget is its own.
    expect((await api(hub, 'POST', '/api/jobs', { type: 'x' }, as('bob'))).status).toBe(201);
    await expect.poll(async () => (await api(hub, 'GET', '/api/snapshot', undefined, as('alice'))).status, { interval: 300, timeout: 5_000 }).toBe(200);
    const jobs = (await api(hub, 'GET', '/api/snapshot', undefined, as('bob'))).body.records.filter((record: { kind: string }) => record.kind === 'job');
    expect(jobs).toHaveLength(1);
  });
});

describe('socket rate limit (--socket-rate-limit)', () => {
  it('answers a worker socket over its messages per second with rate_limited, and serves it again after', async () => {
    const hub = await testHub({ socketRateLimit: 5 });
    const socket = io(`${hub.url}/worker`, { transports: ['websocket'], forceNew: true, reconnection: false });
    try {
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
      const answers = await Promise.all(Array.from({ length: 8 }, () => socket.timeout(5_000).emitWithAck('heartbeat', {})));
      const codes = answers.map((answer) => (answer as { error?: { code: string } }).error?.code);
      // Within budget: "register first" (conflict); over it: rate_limited, with when to send again.
      expect(codes.slice(0, 5)).toEqual(['conflict', 'conflict', 'conflict', 'conflict', 'conflict']);
      expect(codes.slice(5)).toEqual(['rate_limited', 'rate_limited', 'rate_limited']);
      expect((answers[7] as { error: { message: string } }).error.message).toMatch(/^more than 5 messages per second from this socket; send again in \d+ ms$/);
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      expect(((await socket.timeout(5_000).emitWithAck('heartbeat', {})) as { error: { code: string } }).error.code).toBe('conflict');
    } finally {
      socket.close();
    }
  });

  it('lets go of a monitor that floods the hub with events', async () => {
    const hub = await testHub({ socketRateLimit: 5 });
    const monitor = await connectMonitor(hub);
    for (let index = 0; index < 20; index++) monitor.socket.emit('anything', index);
    await monitor.until(() => monitor.socket.disconnected, 'the hub to disconnect the monitor');
    expect(monitor.all<{ error: { code: string } }>('error').some((body) => body.error.code === 'rate_limited')).toBe(true);
  });
});

/** The hub's own count of connected monitors and SSE clients (GET /metrics). */
async function connectedMonitors(hub: Hub): Promise<number> {
  const text = (await api(hub, 'GET', '/metrics')).body as string;
  return Number(/^statehub_monitors (\d+)$/m.exec(text)?.[1]);
}

describe('readers that do not read', () => {
  it('a monitor that stops reading is cut off at --max-queued-packets; the hub keeps serving the others', async () => {
    const hub = await testHub({ maxQueuedPackets: 20 });
    const proxy = await startTcpProxy(hub.port);
    await connectMonitor(proxy.url);
    const other = await connectMonitor(hub);
    expect(await connectedMonitors(hub)).toBe(2);
    // A frozen tab: it stops reading, and what the hub sends it backs up.
    proxy.stall();
    const payload = { text: 'p'.repeat(100_000) };
    let last = '';
    for (let index = 0; index < 300 && (await connectedMonitors(hub)) > 1; index++) last = (await submit(hub, { type: 'nobody', payload })).id;
    expect(await connectedMonitors(hub)).toBe(1);
    // The reader that kept reading got everything.
    await other.until(() => other.all<Array<{ record: { id: string } }>>('transitions').some((batch) => batch.some((entry) => entry.record.id === last)), 'the last job');
  });

  it('an SSE client that stops reading is cut off past its send buffer (sseMaxBufferedBytes)', async () => {
    const hub = await testHub({ sseMaxBufferedBytes: 1024 * 1024 });
    const proxy = await startTcpProxy(hub.port);
    const events = await fetch(`${proxy.url}/api/events`);
    expect(events.status).toBe(200);
    expect(await connectedMonitors(hub)).toBe(1);
    proxy.stall();
    const payload = { text: 'q'.repeat(100_000) };
    for (let index = 0; index < 300 && (await connectedMonitors(hub)) > 0; index++) await submit(hub, { type: 'nobody', payload });
    expect(await connectedMonitors(hub)).toBe(0);
    expect((await api(hub, 'GET', '/healthz')).status).toBe(200);
  });
});
