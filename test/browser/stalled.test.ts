/**
 * An honest "live": when the hub goes silent (frozen with SIGSTOP, as a hung process or a
 * black-holed network would look), the page says so within 3 s instead of showing `live` until
 * Socket.IO's ping timeout, and it is live again when the hub is back.
 */
import { describe, expect, it } from 'vitest';
import { Monitor } from 'statehub';
import { hubProcess } from '../helpers/cli.js';
import { openPage, screenshot, useBrowser } from '../helpers/browser.js';

const browser = useBrowser();

describe('a hub that goes silent', () => {
  it('shows the page "stalled since …" within 3 s, live again when the hub is back; a Node monitor says the same', async () => {
    const { hub, url } = await hubProcess();
    const open = await openPage(browser(), url);
    await open.page.waitForSelector('[data-connection="live"]');
    const monitor = new Monitor(url);
    try {
      await expect.poll(() => monitor.state).toBe('live');
      // Quiet but alive: the hub's ticks keep it live for longer than the stall window.
      await new Promise((resolve) => setTimeout(resolve, 4_000));
      expect(await open.page.getAttribute('[role="status"]', 'data-connection')).toBe('live');
      expect(monitor.state).toBe('live');

      hub.process.kill('SIGSTOP');
      await open.page.waitForSelector('[data-connection="stalled"]', { timeout: 6_000 });
      expect(await open.page.textContent('[role="status"]')).toMatch(/^stalled since \d{2}:\d{2}:\d{2}\.\d{3} /);
      await expect.poll(() => monitor.state, { timeout: 6_000 }).toBe('stalled');
      await screenshot(open.page, 'stalled');

      hub.process.kill('SIGCONT');
      await open.page.waitForSelector('[data-connection="live"], [data-connection="resynced"]', { timeout: 10_000 });
      await expect.poll(() => monitor.state, { timeout: 10_000 }).toBe('live');
      expect(open.errors).toEqual([]);
    } finally {
      hub.process.kill('SIGCONT');
      monitor.close();
    }
  });
});
