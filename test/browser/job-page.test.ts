/**
 * A job's page in real Chromium shows what the job's records say: after it finished and left the
 * live set, every change whenever the page was opened, and clock times in a named zone.
 */
import { describe, expect, it } from 'vitest';
import { api, submit, testHub, testRecording, testWorker } from '../helpers/hub.js';
import { deferred } from '../helpers/connectors.js';
import { openPage, screenshot, useBrowser, type OpenPage } from '../helpers/browser.js';

const browser = useBrowser();

async function live(open: OpenPage): Promise<void> {
  await open.page.waitForSelector('[data-connection="live"], [data-connection="resynced"]');
}

/** The seq of every row of the Transitions table, in order. */
async function tableSeqs(open: OpenPage): Promise<number[]> {
  return open.page.$$eval('table.history tbody tr td:first-child', (cells) => cells.map((cell) => Number(cell.textContent)));
}

/** The value shown beside `name` in the job's facts. */
async function fact(page: OpenPage['page'], name: string): Promise<string | undefined> {
  return page.$$eval('.facts dt', (terms, wanted) => terms.find((term) => term.textContent === wanted)?.nextElementSibling?.textContent ?? undefined, name);
}

async function historySeqs(url: string, id: string): Promise<number[]> {
  return (await api(url, 'GET', `/api/jobs/${id}/history`)).body.entries.map((entry: { record: { seq: number } }) => entry.record.seq);
}

describe('a job page', () => {
  it('shows what the connector said with its progress beside the bar, until the job ends', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    const release = deferred<void>();
    await testWorker(hub, {
      id: 'w1',
      simulations: 0,
      progressIntervalMs: 1,
      connectors: [
        {
          type: 'talker',
          async run(_job, { progress }) {
            progress(40, 'node 2 of 5: KSampler');
            await release.promise;
            return 'ok';
          },
        },
      ],
    });
    const job = await submit(hub, { type: 'talker' });
    await recording.waitFor(job.id, (record) => record.snapshot.context.progressMessage === 'node 2 of 5: KSampler');
    const open = await openPage(browser(), `${hub.url}/#/jobs/${job.id}`);
    await live(open);
    await open.page.waitForSelector('.facts .progress-message:has-text("node 2 of 5: KSampler")');
    expect(await fact(open.page, 'progress')).toBe('40%node 2 of 5: KSampler');
    release.resolve();
    await recording.waitFor(job.id, 'completed');
    await open.page.waitForSelector('.facts [role="progressbar"][aria-valuenow="100"]');
    expect(await open.page.$$('.facts .progress-message')).toHaveLength(0);
  });

  it('opened while the job runs follows it to the end, also after it left the live set: completed, 100 %, no cancel, and says it is still readable by id', async () => {
    const hub = await testHub({ retention: { keepFinishedMs: 3_000 } });
    const recording = await testRecording(hub);
    await testWorker(hub, { id: 'w1' });
    const job = await submit(hub, { type: 'simulation', payload: { durationMs: 4_000, steps: 4 } });
    const open = await openPage(browser(), `${hub.url}/#/jobs/${job.id}`);
    await live(open);
    await open.page.waitForSelector('.job-head .state-running');
    expect(await open.page.isVisible('button:has-text("Cancel job")')).toBe(true);

    await recording.waitFor(job.id, 'completed', { timeoutMs: 10_000 });
    await expect.poll(async () => (await api(hub, 'GET', `/api/jobs/${job.id}`)).body.removed, { timeout: 10_000 }).toBe(true);
    await open.page.waitForSelector('.note:has-text("left the live set")');
    expect(await open.page.textContent('.job-head .state')).toBe('completed');
    expect(await open.page.textContent('.facts [role="progressbar"] .label')).toBe('100%');
    expect(await open.page.isVisible('button:has-text("Cancel job")')).toBe(false);
    expect(await open.page.textContent('.note')).toMatch(new RegExp(`stays readable by id .*GET /api/jobs/${job.id}`));
    // Its last row is the removal, as in the history the hub keeps.
    await expect.poll(() => tableSeqs(open)).toEqual(await historySeqs(hub.url, job.id));
    await screenshot(open.page, 'job-left-live-set');
    expect(open.errors).toEqual([]);
  });

  it('lists every change, the same as GET /api/jobs/:id/history, whenever it was opened, even when the page renders rarely (a background tab)', async () => {
    const hub = await testHub({ retention: { keepFinishedMs: 60_000 } });
    const recording = await testRecording(hub);
    await testWorker(hub, { id: 'w1', simulations: 2 });
    // Other work, so the job's changes share batches with others'.
    for (let index = 0; index < 3; index++) await submit(hub, { type: 'simulation', payload: { durationMs: 3_000, steps: 30 } });
    const job = await submit(hub, { type: 'simulation', priority: 100, payload: { durationMs: 4_000, steps: 10 } });

    const atStart = await openPage(browser(), `${hub.url}/#/jobs/${job.id}`);
    // A tab in the background gets an animation frame now and then, not 60 times a second.
    const throttled = await openPage(browser(), 'about:blank');
    await throttled.page.addInitScript(() => {
      window.requestAnimationFrame = (callback) => window.setTimeout(() => callback(performance.now()), 700);
    });
    await throttled.page.goto(`${hub.url}/#/jobs/${job.id}`);
    await recording.waitFor(job.id, (record) => record.state === 'running' && Number(record.snapshot.context.progress) >= 50);
    const midway = await openPage(browser(), `${hub.url}/#/jobs/${job.id}`);
    await recording.waitFor(job.id, 'completed', { timeoutMs: 15_000 });
    const after = await openPage(browser(), `${hub.url}/#/jobs/${job.id}`);

    const expected = await historySeqs(hub.url, job.id);
    expect(expected).toEqual(Array.from({ length: expected.length }, (_, index) => index + 1));
    expect(expected.length).toBeGreaterThanOrEqual(13);
    for (const open of [atStart, throttled, midway, after]) {
      await expect.poll(() => tableSeqs(open), { timeout: 10_000 }).toEqual(expected);
      expect(open.errors).toEqual([]);
    }
    await screenshot(throttled.page, 'job-transitions-background-tab');
  });
});

describe('clock times', () => {
  it('read in the browser’s zone with the zone named, or in UTC when chosen, the same on every page', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    await testWorker(hub, { id: 'w1' });
    const job = await submit(hub, { type: 'simulation', payload: { durationMs: 10, steps: 1 } });
    const done = await recording.waitFor(job.id, 'completed');
    const createdAt = new Date(String(done.snapshot.context.createdAt));

    const context = await browser().newContext({ timezoneId: 'Asia/Kolkata', locale: 'de-DE' });
    const page = await context.newPage();
    try {
      await page.goto(`${hub.url}/#/jobs/${job.id}`);
      await page.waitForSelector('table.history tbody tr');
      const inKolkata = new Date(createdAt.getTime() + 330 * 60_000).toISOString();
      const expectedCreated = `${inKolkata.slice(0, 10)} ${inKolkata.slice(11, 23)} GMT+5:30`;
      expect(await fact(page, 'created')).toBe(expectedCreated);
      const firstTime = await page.textContent('table.history tbody tr td:nth-child(2)');
      expect(firstTime).toMatch(/^\d{2}:\d{2}:\d{2}\.\d{3} GMT\+5:30$/);

      await page.selectOption('select[aria-label="time zone"]', 'utc');
      expect(await fact(page, 'created')).toBe(`${createdAt.toISOString().slice(0, 10)} ${createdAt.toISOString().slice(11, 23)} UTC`);
      expect(await page.textContent('table.history tbody tr td:nth-child(2)')).toMatch(/^\d{2}:\d{2}:\d{2}\.\d{3} UTC$/);
      // The choice is kept for the next page.
      await page.reload();
      await page.waitForSelector('table.history tbody tr');
      expect(await page.inputValue('select[aria-label="time zone"]')).toBe('utc');
      await page.goto(`${hub.url}/#/`);
      await page.waitForSelector('.chart svg g title', { state: 'attached' });
      expect(await page.$$eval('.chart svg g title', (titles) => titles.map((title) => title.textContent).at(-1))).toMatch(/^\d{2}:\d{2}:\d{2}\.000 UTC: \d+ completed/);
    } finally {
      await context.close();
    }
  });

  it('read with their zone on the plain page a hub serves when the monitor is not built', async () => {
    const hub = await testHub({ uiDir: '/nonexistent' });
    await testWorker(hub, { id: 'w1', machineId: 'm1' });
    const context = await browser().newContext({ timezoneId: 'Asia/Kolkata' });
    try {
      const page = await context.newPage();
      await page.goto(hub.url);
      await page.waitForSelector('#rows tr');
      const updated = await page.$$eval('#rows tr td:last-child', (cells) => cells.map((cell) => cell.textContent));
      expect(updated.length).toBeGreaterThan(0);
      for (const text of updated) expect(text).toMatch(/^\d{2}:\d{2}:\d{2}\.\d{3} GMT\+5:30$/);
    } finally {
      await context.close();
    }
  });
});
