/**
 * The rule behind every page: it shows nothing that is not a function of the records it holds
 * and the clock. Page A is opened before any worker starts; page B twenty seconds later, after
 * jobs ran, a connector's context changed without its state changing, workers joined a machine,
 * a worker restarted with fewer connectors, a machine lost a worker while offline and a finished
 * job left the live set. Once both settle, on the same clock, they read the same, word for word.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { ConnectorImplementation } from 'statehub/worker';
import { api, submit, testHub, testRecording, testWorker } from '../helpers/hub.js';
import { openPage, screenshot, useBrowser, type OpenPage } from '../helpers/browser.js';

const browser = useBrowser();

async function live(open: OpenPage): Promise<void> {
  await open.page.waitForSelector('[data-connection="live"], [data-connection="resynced"]');
}

/** What a person reads on the page, and what its connector badges say on hover. */
async function visible(open: OpenPage): Promise<{ text: string; tooltips: string[] }> {
  return {
    text: await open.page.innerText('main'),
    tooltips: await open.page.$$eval('[data-tip]', (elements) => elements.map((element) => (element as HTMLElement).dataset.tip ?? '')),
  };
}

/**
 * Reads both pages until they agree (each re-renders its relative times as the hub's second
 * turns, and a reading may fall between the two), then asserts it, so a failure shows the
 * difference.
 */
async function expectSameText(x: OpenPage, y: OpenPage): Promise<void> {
  let last: [unknown, unknown] = [undefined, undefined];
  const deadline = Date.now() + 15_000;
  do {
    last = await Promise.all([visible(x), visible(y)]);
    if (JSON.stringify(last[0]) === JSON.stringify(last[1])) break;
    await sleep(250);
  } while (Date.now() < deadline);
  expect(last[0]).toEqual(last[1]);
}

describe('the same records read the same on every page', () => {
  it('page A, open from before any worker started, and page B, opened 20 s later, show identical text: overview, tooltips, jobs table and a job that left the live set', async () => {
    const hub = await testHub({ retention: { keepFinishedMs: 3_000 } });
    const recording = await testRecording(hub);
    const openedAt = Date.now();
    const a = await openPage(browser(), hub.url);
    await live(a);

    // Workers join machine m1 one after the other: its context changes, its state does not.
    const first = await testWorker(hub, { id: 'w1', machineId: 'm1', simulations: 3 });
    await testWorker(hub, { id: 'w2', machineId: 'm1' });
    // A connector whose health latency moves for a while: its context changes while it stays idle.
    let checks = 0;
    const drifting: ConnectorImplementation = {
      type: 'drift',
      id: 'w3/drift',
      healthIntervalMs: 150,
      checkHealth: async () => ({ latencyMs: Math.min(++checks, 12) }),
      run: async () => null,
    };
    await testWorker(hub, { id: 'w3', machineId: 'm2', connectors: [drifting] });
    // A machine that goes offline and later loses its worker, while offline.
    const lonely = await testWorker(hub, { id: 'w4', machineId: 'm3' });
    await lonely.stop();
    await recording.waitFor('m3', 'offline');

    // A job watched from its start, which finishes and leaves the live set; others around it.
    const watched = await submit(hub, { type: 'simulation', payload: { durationMs: 1_500, steps: 5 } });
    const aJob = await openPage(browser(), `${hub.url}/#/jobs/${watched.id}`);
    await live(aJob);
    const others = [
      await submit(hub, { type: 'simulation', payload: { durationMs: 300, steps: 2 } }),
      await submit(hub, { type: 'simulation', backoffMs: 50, payload: { durationMs: 200, steps: 2, failTimes: 1 } }),
      await submit(hub, { type: 'simulation', maxAttempts: 1, payload: { durationMs: 100, failTimes: 1, failWith: 'no luck' } }),
      await submit(hub, { type: 'nobody-serves-this' }),
    ];
    await recording.waitFor(watched.id, 'completed');
    for (const job of others.slice(0, 3)) await recording.waitFor(job.id, (record) => ['completed', 'failed'].includes(record.state));

    // w1 comes back with one connector instead of three.
    await first.stop();
    await recording.waitFor('w1', 'offline');
    await testWorker(hub, { id: 'w1', machineId: 'm1', simulations: 1 });
    await sleep(1_500);
    expect((await api(hub, 'DELETE', '/api/actors/w4')).status).toBe(200);
    await expect.poll(async () => (await api(hub, 'GET', `/api/jobs/${watched.id}`)).body.removed, { timeout: 10_000 }).toBe(true);

    await sleep(Math.max(0, openedAt + 20_000 - Date.now()));
    const b = await openPage(browser(), hub.url);
    await live(b);
    const bJob = await openPage(browser(), `${hub.url}/#/jobs/${watched.id}`);
    await live(bJob);

    // Both pages count from the hub's clock, to its whole seconds: read together, they read alike.

    await expectSameText(a, b);
    const overview = await visible(b);
    expect(overview.tooltips.find((tip) => tip.startsWith('w3/drift'))).toMatch(/^w3\/drift: idle since \d+ s ago\nhealth check 12 ms$/);
    expect(overview.text).toMatch(/m3\s*offline\s*since \d+ s ago/);
    expect(overview.tooltips.filter((tip) => tip.startsWith('w1/'))).toHaveLength(1);
    await screenshot(a.page, 'parity-overview-a');
    await screenshot(b.page, 'parity-overview-b');

    await expectSameText(aJob, bJob);
    expect((await visible(aJob)).text).toMatch(/left the live set/);
    await screenshot(aJob.page, 'parity-job-a');

    for (const open of [a, b]) await open.page.click('nav >> text=Jobs');
    await expectSameText(a, b);
    await screenshot(b.page, 'parity-jobs-b');
    for (const open of [a, b, aJob, bJob]) expect(open.errors).toEqual([]);
  }, 90_000);
});
