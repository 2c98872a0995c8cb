/** The System page in real Chromium lists the webhooks as their records say: state, deliveries, last round, why one is paused. */
import { expect, it } from 'vitest';
import { api, testHub } from '../helpers/hub.js';
import { openPage, screenshot, useBrowser } from '../helpers/browser.js';
import { WebhookReceiver } from '../helpers/webhook-receiver.js';

const browser = useBrowser();
const SECRET = 'a-test-secret-of-some-length';

it('shows each webhook, the one delivering and the one paused with its reason, following their changes', async () => {
  const hub = await testHub({ webhooks: { leaseMs: 2_000, pollMs: 200, timeoutMs: 500 } });
  const working = await WebhookReceiver.start(SECRET);
  const broken = await WebhookReceiver.start(SECRET);
  broken.answer = () => 503;
  const register = async (url: string, description: string) =>
    (await api(hub, 'POST', '/api/webhooks', { url, secret: SECRET, description, maxFailures: 1, filter: { kinds: ['job'] } })).body.id as string;
  const good = await register(working.url, 'billing');
  const bad = await register(broken.url, 'audit');
  const open = await openPage(browser(), `${hub.url}/#/system`);
  await api(hub, 'POST', '/api/jobs', { type: 'unserved' });
  await working.until(() => working.accepted.length === 1, 'the job at the working endpoint');

  const row = (id: string) => open.page.locator(`table.webhooks tr[data-id="${id}"]`);
  await expect.poll(() => row(bad).textContent(), { timeout: 30_000 }).toContain('paused');
  expect(await row(bad).textContent()).toContain('1 round in a row failed (the last: HTTP 503 Service Unavailable)');
  expect(await row(bad).textContent()).toContain('audit');
  await expect.poll(() => row(good).locator('td').nth(2).textContent(), { timeout: 30_000 }).toBe('1');
  expect(await row(good).textContent()).toMatch(/billing.*active.*ok, HTTP 204/);
  await screenshot(open.page, 'system-webhooks');
  expect(open.errors).toEqual([]);
});
