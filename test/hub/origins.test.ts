/**
 * Which web pages may use the hub: requests without an Origin (not from a page), the hub's own
 * origin, and --allow-origin ones. A WebSocket is not subject to CORS, so without this any site a
 * user visits could read a hub without tokens (/monitor) or run its jobs (/worker).
 */
import { randomBytes } from 'node:crypto';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { io } from 'socket.io-client';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startHub, type Hub } from 'statehub';
import { parseOrigin } from '../../src/hub/origins.js';
import { statehub } from '../helpers/cli.js';
import { api, snapshot, submit, testHub } from '../helpers/hub.js';

const EVIL = 'https://evil.example';
const DASH = 'https://dash.example';
const NAMESPACES = ['/monitor', '/worker'] as const;

interface RawAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One HTTP request with exactly these headers (Host and Origin included), over the hub's address. */
function raw(hub: Hub, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(new URL(path, hub.url), { method, headers }, (response) => {
      // An SSE stream never ends: its headers are the answer.
      if (String(response.headers['content-type']).startsWith('text/event-stream')) {
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body: '' });
        response.destroy();
        return;
      }
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: text }));
    });
    request.on('error', reject);
    request.end(body);
  });
}

/** A WebSocket handshake as a browser page sends it: `upgraded`, or the hub's answer instead. */
function rawUpgrade(hub: Hub, origin: string): Promise<'upgraded' | RawAnswer> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(new URL('/socket.io/?EIO=4&transport=websocket', hub.url), {
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': randomBytes(16).toString('base64'),
        origin,
      },
    });
    request.on('upgrade', (_response, socket) => {
      socket.destroy();
      resolve('upgraded');
    });
    request.on('response', (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: text }));
      response.on('error', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: text }));
    });
    request.on('error', reject);
    request.end();
  });
}

/** A polling handshake (Engine.IO's first request) from a page of `origin`. */
const pollingHandshake = (hub: Hub, origin: string, headers: Record<string, string> = {}) =>
  raw(hub, 'GET', '/socket.io/?EIO=4&transport=polling', { origin, ...headers });

/** Connects a Socket.IO client over WebSocket, sending `origin` as a page would (none: not a page). */
function socketOutcome(hub: Hub, namespace: string, origin?: string): Promise<'connected' | 'refused'> {
  const socket = io(new URL(namespace, hub.url).href, {
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
    ...(origin === undefined ? {} : { extraHeaders: { origin } }),
  });
  onTestFinished(() => {
    socket.close();
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`neither connected nor refused on ${namespace}`)), 10_000);
    socket.on('connect', () => {
      clearTimeout(timer);
      socket.close();
      resolve('connected');
    });
    socket.on('connect_error', () => {
      clearTimeout(timer);
      socket.close();
      resolve('refused');
    });
  });
}

const refusal = (origin: string) => `origin ${origin} is not allowed; start the hub with --allow-origin ${origin} to allow it`;

function expectForbidden(answer: RawAnswer, origin: string): void {
  expect(answer.status, answer.body).toBe(403);
  expect(answer.headers['content-type']).toMatch(/^application\/json/);
  expect(JSON.parse(answer.body)).toEqual({ error: { code: 'forbidden', message: refusal(origin) } });
  expect(answer.headers['access-control-allow-origin']).toBeUndefined();
}

describe('Socket.IO handshakes by origin', () => {
  it.each(NAMESPACES)('%s: without --allow-origin, clients without an Origin and pages of the hub itself connect; other pages do not', async (namespace) => {
    const hub = await testHub();
    expect(await socketOutcome(hub, namespace)).toBe('connected');
    expect(await socketOutcome(hub, namespace, hub.url)).toBe('connected');
    expect(await socketOutcome(hub, namespace, EVIL)).toBe('refused');
    // Same host, other port: another origin.
    expect(await socketOutcome(hub, namespace, `http://127.0.0.1:${hub.port === 65_535 ? 1 : hub.port + 1}`)).toBe('refused');
    expect(await socketOutcome(hub, namespace, 'null')).toBe('refused');
    expect(hub.io.of(namespace).sockets.size).toBe(0);
  });

  it('a refused handshake says why and what to do, over WebSocket and polling', async () => {
    const hub = await testHub();
    const upgrade = await rawUpgrade(hub, EVIL);
    expect(upgrade).not.toBe('upgraded');
    expect((upgrade as RawAnswer).body).toBe(refusal(EVIL));

    const polling = await pollingHandshake(hub, EVIL);
    expect(polling.status).toBe(403);
    expect(JSON.parse(polling.body)).toMatchObject({ message: refusal(EVIL) });
    expect(polling.headers['access-control-allow-origin']).toBeUndefined();

    const sandboxed = await pollingHandshake(hub, 'null');
    expect(sandboxed.status).toBe(403);
    expect(JSON.parse(sandboxed.body).message).toMatch(/sandboxed frames.*--allow-origin "\*"/);
  });

  it('its own origin is the host the page was loaded from, whatever name was typed', async () => {
    const hub = await testHub();
    // The page at http://localhost:PORT: its handshakes carry that Host and that Origin.
    const host = `localhost:${hub.port}`;
    expect((await pollingHandshake(hub, `http://${host}`, { host })).status).toBe(200);
    expect((await pollingHandshake(hub, `http://${host}`, { host: `127.0.0.1:${hub.port}` })).status).toBe(403);
    // Same-origin requests need no CORS headers, and get none.
    const own = await pollingHandshake(hub, hub.url);
    expect(own.status).toBe(200);
    expect(own.headers['access-control-allow-origin']).toBeUndefined();
    expect(await rawUpgrade(hub, hub.url)).toBe('upgraded');
  });

  it.each(NAMESPACES)('%s: --allow-origin lets pages of that origin connect, with CORS headers on polling', async (namespace) => {
    const hub = await testHub({ allowOrigins: [DASH] });
    expect(await socketOutcome(hub, namespace, DASH)).toBe('connected');
    expect(await socketOutcome(hub, namespace, hub.url)).toBe('connected');
    expect(await socketOutcome(hub, namespace)).toBe('connected');
    expect(await socketOutcome(hub, namespace, EVIL)).toBe('refused');
    const polling = await pollingHandshake(hub, DASH);
    expect(polling.status).toBe(200);
    expect(polling.headers['access-control-allow-origin']).toBe(DASH);
    expect((await pollingHandshake(hub, EVIL)).status).toBe(403);
  });

  it('on loopback, its own origin needs a loopback name: a site rebound to 127.0.0.1 (DNS rebinding) is a foreign page', async () => {
    const hub = await testHub();
    const rebound = `attacker.example:${hub.port}`;
    expect((await pollingHandshake(hub, `http://${rebound}`, { host: rebound })).status).toBe(403);
    expect((await raw(hub, 'GET', '/api/snapshot', { host: rebound, origin: `http://${rebound}` })).status).toBe(403);
    for (const name of [`localhost:${hub.port}`, `127.0.0.2:${hub.port}`, `app.localhost:${hub.port}`]) {
      expect((await pollingHandshake(hub, `http://${name}`, { host: name })).status).toBe(200);
    }
    // A hub listening beyond loopback is reached by its real names.
    const open = await testHub({ host: '0.0.0.0', tokens: { t: 'admin' } });
    const named = `hub.example:${open.port}`;
    expect((await raw(open, 'GET', '/healthz', { host: named, origin: `http://${named}`, authorization: 'Bearer t' })).status).toBe(200);
  });

  it('--allow-origin * lets every page connect', async () => {
    const hub = await testHub({ allowOrigins: ['*'] });
    expect(await socketOutcome(hub, '/monitor', EVIL)).toBe('connected');
    expect(await socketOutcome(hub, '/worker', 'null')).toBe('connected');
    expect((await pollingHandshake(hub, EVIL)).headers['access-control-allow-origin']).toBe(EVIL);
  });
});

describe('HTTP API by origin', () => {
  it('refuses pages of other origins with 403 before anything happens: no read, no submit, no cancel', async () => {
    const hub = await testHub();
    const job = await submit(hub, { type: 'unserved' });
    const before = await snapshot(hub);

    expectForbidden(await raw(hub, 'GET', '/api/snapshot', { origin: EVIL }), EVIL);
    expectForbidden(await raw(hub, 'GET', '/api/events', { origin: EVIL }), EVIL);
    expectForbidden(await raw(hub, 'GET', `/api/jobs/${job.id}`, { origin: EVIL }), EVIL);
    // The requests a page may send without a preflight, and the preflight itself.
    expectForbidden(await raw(hub, 'POST', `/api/jobs/${job.id}/cancel`, { origin: EVIL }), EVIL);
    expectForbidden(await raw(hub, 'POST', '/api/jobs', { origin: EVIL, 'content-type': 'text/plain' }, '{"type":"unserved"}'), EVIL);
    expectForbidden(await raw(hub, 'POST', '/api/jobs', { origin: EVIL, 'content-type': 'application/json' }, '{"type":"unserved"}'), EVIL);
    expectForbidden(await raw(hub, 'OPTIONS', '/api/jobs', { origin: EVIL, 'access-control-request-method': 'POST' }), EVIL);
    expectForbidden(await raw(hub, 'DELETE', `/api/actors/${job.id}`, { origin: EVIL }), EVIL);

    expect(await snapshot(hub)).toEqual(before);
    expect((await api(hub, 'GET', `/api/jobs/${job.id}`)).body.state).toBe('pending');
  });

  it('serves clients without an Origin and pages of the hub itself, without CORS headers', async () => {
    const hub = await testHub();
    const job = await submit(hub, { type: 'unserved' });
    const own = await raw(hub, 'POST', `/api/jobs/${job.id}/cancel`, { origin: hub.url });
    expect(own.status, own.body).toBe(200);
    expect(own.headers['access-control-allow-origin']).toBeUndefined();
    const host = `localhost:${hub.port}`;
    expect((await raw(hub, 'GET', '/api/snapshot', { origin: `http://${host}`, host })).status).toBe(200);
    expect((await raw(hub, 'GET', '/api/snapshot')).status).toBe(200);
    expect((await raw(hub, 'GET', '/', { origin: hub.url })).status).toBe(200);
  });

  it('--allow-origin: pages of that origin get CORS headers, preflights answered (also with tokens), SSE included', async () => {
    const hub = await testHub({ allowOrigins: [`${DASH}/`], tokens: { secret: 'admin' } });
    const bearer = { authorization: 'Bearer secret' };

    const preflight = await raw(hub, 'OPTIONS', '/api/jobs', {
      origin: DASH,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'authorization, content-type',
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers).toMatchObject({
      'access-control-allow-origin': DASH,
      'access-control-allow-methods': expect.stringContaining('POST'),
      'access-control-allow-headers': expect.stringMatching(/authorization.*content-type/),
      vary: 'Origin',
    });

    const submitted = await raw(hub, 'POST', '/api/jobs', { origin: DASH, 'content-type': 'application/json', ...bearer }, '{"type":"unserved"}');
    expect(submitted.status, submitted.body).toBe(201);
    expect(submitted.headers['access-control-allow-origin']).toBe(DASH);

    const stranger = await raw(hub, 'GET', '/api/snapshot', { origin: DASH });
    expect(stranger.status).toBe(401);
    expect(stranger.headers['access-control-allow-origin']).toBe(DASH);

    const events = await raw(hub, 'GET', '/api/events?token=secret', { origin: DASH });
    expect(events.status).toBe(200);
    expect(events.headers['access-control-allow-origin']).toBe(DASH);

    expectForbidden(await raw(hub, 'GET', '/api/snapshot', { origin: EVIL, ...bearer }), EVIL);
  });

  it('--allow-origin *: every page, named back in the CORS header', async () => {
    const hub = await testHub({ allowOrigins: ['*'] });
    const answer = await raw(hub, 'GET', '/api/snapshot', { origin: EVIL });
    expect(answer.status).toBe(200);
    expect(answer.headers['access-control-allow-origin']).toBe(EVIL);
  });
});

describe('--allow-origin values', () => {
  it('takes origins as the browser writes them, and * ', () => {
    expect(parseOrigin('HTTPS://Dash.Example:443/')).toBe(DASH);
    expect(parseOrigin('http://127.0.0.1:5173')).toBe('http://127.0.0.1:5173');
    expect(parseOrigin('*')).toBe('*');
  });

  it.each(['dash.example', 'https://dash.example/app', 'https://dash.example/?a=1', 'file:///tmp/x.html', ''])('refuses %j, saying what an origin is', async (text) => {
    expect(() => parseOrigin(text)).toThrow(/is not an origin: write scheme:\/\/host\[:port\]/);
    await expect(startHub({ port: 0, logger: false, allowOrigins: [text] })).rejects.toThrow(/is not an origin/);
  });

  it('the command takes --allow-origin, repeated, and refuses a value that is no origin', async () => {
    const bad = statehub(['hub', '--port', '0', '--allow-origin', 'dash.example']);
    expect(await bad.exited()).not.toBe(0);
    expect(bad.output()).toMatch(/--allow-origin.*"dash\.example" is not an origin/s);

    const hub = statehub(['hub', '--port', '0', '--allow-origin', DASH, '--allow-origin', 'http://127.0.0.1:5173']);
    const [, url] = await hub.waitFor(/listening on (http:\/\/\S+)/);
    const asHub = { url } as Hub;
    expect((await raw(asHub, 'GET', '/api/snapshot', { origin: DASH })).headers['access-control-allow-origin']).toBe(DASH);
    expect((await raw(asHub, 'GET', '/api/snapshot', { origin: 'http://127.0.0.1:5173' })).status).toBe(200);
    expect((await raw(asHub, 'GET', '/api/snapshot', { origin: EVIL })).status).toBe(403);
  });
});
