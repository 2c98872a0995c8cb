/**
 * The System page in real Chromium: every probe with its state, latency line, last check and
 * answer, workers and machines beside them, one word for the whole; and a probe whose checks
 * stop (its store went away) turning unknown on the page instead of staying healthy.
 */
import { createServer as createHttpServer } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startHub } from 'statehub';
import { testHub, testWorker } from '../helpers/hub.js';
import { freePort, startRedisServer } from '../helpers/redis.js';
import { openPage, screenshot, statesOn, useBrowser, type OpenPage } from '../helpers/browser.js';

const browser = useBrowser();

async function live(open: OpenPage): Promise<void> {
  await open.page.waitForSelector('[data-connection="live"], [data-connection="resynced"]');
}

const row = (id: string) => `table.probes tr[data-id="${id}"]`;

/** Listens on `port` (or a free one) until the test ends; `answer` serves HTTP when given, else connections are accepted and closed. */
async function listen(port: number, answer?: (respond: (body: string) => void) => void): Promise<number> {
  const server = answer ? createHttpServer((_request, response) => answer((body) => response.end(body))) : createTcpServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as AddressInfo).port;
}

describe('the System page', () => {
  it('shows every probe (state, latency line, a last check that stays fresh, answer), workers and machines, and one word for the whole', async () => {
    const http = await listen(0, (respond) => respond('ok'));
    const closed = await freePort();
    const hub = await testHub({ probeStore: true, probes: { defaults: { intervalMs: 500 }, probes: [`http://127.0.0.1:${http}/minio/health/live`, `tcp://127.0.0.1:${closed}`] } });
    await testWorker(hub, { id: 'w1', machineId: 'm1' });
    const open = await openPage(browser(), `${hub.url}/system`);
    await live(open);

    const tcp = `probe:tcp://127.0.0.1:${closed}`;
    const minio = `probe:http://127.0.0.1:${http}/minio/health/live`;
    await expect.poll(() => statesOn(open.page, 'table.probes tr'), { timeout: 10_000 }).toEqual({ 'probe:store': 'healthy', [minio]: 'healthy', [tcp]: 'unhealthy' });
    await open.page.waitForSelector('[data-health="unhealthy"]');
    expect(await open.page.textContent('[data-health]')).toContain(`${tcp} became unhealthy`);
    expect(await open.page.textContent(`${row(tcp)} .answer`)).toMatch(/ECONNREFUSED/);
    expect(await open.page.textContent(`${row(minio)} .answer`)).toBe('HTTP 200');
    expect(await open.page.textContent(`${row(minio)} .latency`)).toMatch(/^\d+(\.\d)? ms$/);
    // Checks every 0.5 s and a record only now and then: the last check due is less than a second old, whenever the page looks.
    for (let look = 0; look < 3; look++) {
      expect(await open.page.textContent(`${row(minio)} .last-check`)).toMatch(/^checked [01] s ago$/);
      await open.page.waitForTimeout(1_000);
    }
    expect(await open.page.$$eval(`${row(minio)} svg.sparkline path.line`, (paths) => paths.length)).toBeGreaterThan(0);
    expect(await open.page.$$eval(`${row(tcp)} svg.sparkline rect.failure`, (marks) => marks.length)).toBeGreaterThan(0);
    await expect.poll(() => open.page.textContent('[data-kind="worker"][data-state="ready"] strong')).toBe('1');
    expect(await open.page.textContent('[data-kind="machine"][data-state="ready"] strong')).toBe('1');
    await screenshot(open.page, 'system-unhealthy');

    // The closed port opens: the probe, then the whole system, are healthy.
    await listen(closed);
    await open.page.waitForSelector(`${row(tcp)}[data-state="healthy"]`, { timeout: 10_000 });
    await open.page.waitForSelector('[data-health="healthy"]');
    expect(await open.page.textContent('[data-health]')).toMatch(/Healthy3 probes healthy · 1 ready and 0 busy of 1 worker/);
    await screenshot(open.page, 'system-healthy');
    expect(open.errors).toEqual([]);
  });

  it('shows a probe whose checks stopped as unknown, not healthy: the Redis store goes away, and comes back', async () => {
    const redis = await startRedisServer({ appendonly: true });
    onTestFinished(() => redis.stop());
    const hub = await startHub({ port: 0, logger: false, redis: redis.url, probes: { defaults: { intervalMs: 200, reportEveryMs: 1_000 } } });
    onTestFinished(() => hub.close());
    const open = await openPage(browser(), `${hub.url}/system`);
    await live(open);
    await open.page.waitForSelector(`${row('probe:store')}[data-state="healthy"][data-stale="false"]`, { timeout: 10_000 });
    await open.page.waitForSelector('[data-health="healthy"]');

    // Nothing can record the store's failure in the store: the page learns it from the record's
    // own deadline (freshUntil), while the hub goes on ticking.
    await redis.kill();
    await open.page.waitForSelector(`${row('probe:store')}[data-state="unknown"][data-stale="true"]`, { timeout: 10_000 });
    await open.page.waitForSelector('[data-health="unknown"]');
    expect(await open.page.textContent(`${row('probe:store')} .last-check`)).toMatch(/^last check \d+ s ago · checks stopped$/);
    expect(await open.page.textContent('[data-health]')).toMatch(/probe:store: last check recorded \d+ s ago; its checks stopped/);
    await screenshot(open.page, 'system-store-gone');

    await redis.restart();
    await open.page.waitForSelector(`${row('probe:store')}[data-state="healthy"][data-stale="false"]`, { timeout: 20_000 });
    await open.page.waitForSelector('[data-health="healthy"]');
    expect(open.errors.filter((error) => !/WebSocket connection .* failed/.test(error))).toEqual([]);
  });
});
