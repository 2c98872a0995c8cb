/**
 * A monitor in a browser whose machine clock is off: the hub tells the page its time, and the
 * page counts "since" and "ago" from it, so it reads what a page on true time reads.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { submit, testHub, testRecording, testWorker } from '../helpers/hub.js';
import { openPage, screenshot, useBrowser, type OpenPage } from '../helpers/browser.js';

const browser = useBrowser();

async function live(open: OpenPage): Promise<void> {
  await open.page.waitForSelector('[data-connection="live"], [data-connection="resynced"]');
}

/** What the overview says, connector tooltips included. */
async function reading(open: OpenPage): Promise<string> {
  const text = await open.page.innerText('main');
  const tips = await open.page.$$eval('[data-tip]', (elements) => elements.map((element) => (element as HTMLElement).dataset.tip ?? ''));
  return [text, ...tips].join('\n');
}

describe('a page whose clock is off', () => {
  it('shows the same relative times as a page on true time: 2 minutes behind or ahead', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    const gone = await testWorker(hub, { id: 'gone', machineId: 'left-box' });
    await testWorker(hub, { id: 'here', machineId: 'box' });
    const job = await submit(hub, { type: 'simulation', payload: { durationMs: 10, steps: 1 } });
    await recording.waitFor(job.id, 'completed');
    await gone.stop();
    await recording.waitFor('left-box', 'offline');
    await sleep(2_000);

    const truth = await openPage(browser(), hub.url);
    const pages = [truth];
    for (const shift of [-120_000, 120_000]) {
      const open = await openPage(browser(), 'about:blank');
      await open.page.clock.install({ time: Date.now() + shift });
      await open.page.goto(hub.url);
      pages.push(open);
    }
    for (const open of pages) await live(open);
    // The pages' own clocks really are off.
    const clocks = await Promise.all(pages.map((open) => open.page.evaluate(() => Date.now())));
    expect(Math.abs((clocks[1] as number) - (clocks[0] as number) + 120_000)).toBeLessThan(10_000);
    expect(Math.abs((clocks[2] as number) - (clocks[0] as number) - 120_000)).toBeLessThan(10_000);

    // Each page ticks on its own second: read until they agree, then check what they say.
    let texts: string[] = [];
    for (let attempt = 0; attempt < 40; attempt++) {
      texts = await Promise.all(pages.map(reading));
      if (texts.every((text) => text === texts[0])) break;
      await sleep(250);
    }
    expect(texts[1]).toBe(texts[0]);
    expect(texts[2]).toBe(texts[0]);
    expect(texts[0]).toMatch(/left-box\s*offline\s*since [2-9] s ago/);
    expect(texts[0]).toMatch(/last 15 min: 1 completed/);
    await screenshot(pages[1]!.page, 'clock-two-minutes-behind');
    for (const open of pages) expect(open.errors).toEqual([]);
  });
});
