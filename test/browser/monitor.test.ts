/**
 * The monitor UI in real Chromium. Each test saves a screenshot of its view to test-artifacts/.
 */
import { describe, expect, it } from 'vitest';
import { startHub, type Hub } from 'statehub';
import { spawnWorker } from '../helpers/child-worker.js';
import { FAST_TIMINGS, snapshot, submit, testHub, testRecording, testWorker } from '../helpers/hub.js';
import { freePort } from '../helpers/redis.js';
import { openPage, screenshot, statesOn, useBrowser, type OpenPage } from '../helpers/browser.js';

const browser = useBrowser();

async function live(open: OpenPage): Promise<void> {
  await open.page.waitForSelector('[data-connection="live"], [data-connection="resynced"]');
}

/** What the snapshot says each element with that kind should show, by id. */
function expectedStates(records: Array<{ id: string; kind: string; state: string }>, kind: string): Record<string, string> {
  return Object.fromEntries(records.filter((record) => record.kind === kind).map((record) => [record.id, record.state]));
}

async function tiles(open: OpenPage): Promise<Record<string, number>> {
  return open.page.$$eval('.tile[data-state]', (elements) =>
    Object.fromEntries(elements.map((element) => [(element as HTMLElement).dataset.state, Number(element.querySelector('.count')?.textContent?.replace(/\D/g, ''))])),
  );
}

describe('the monitor UI', () => {
  it('(a) opened before the workers started and opened after they ran jobs, shows the same badges and job states, equal to the snapshot', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    const early = await openPage(browser(), hub.url);
    await live(early);

    await testWorker(hub, { id: 'w1', machineId: 'm1', simulations: 2 });
    await testWorker(hub, { id: 'w2', machineId: 'm2' });
    const jobs = await Promise.all([
      submit(hub, { type: 'simulation', payload: { durationMs: 20 } }),
      submit(hub, { type: 'simulation', backoffMs: 10, payload: { durationMs: 20, failTimes: 1 } }),
      submit(hub, { type: 'simulation', maxAttempts: 1, payload: { durationMs: 20, failTimes: 1 } }),
      submit(hub, { type: 'gpu-render' }),
    ]);
    for (const job of jobs.slice(0, 3)) await recording.waitFor(job.id, (record) => ['completed', 'failed'].includes(record.state));
    const late = await openPage(browser(), hub.url);
    await live(late);

    const current = await snapshot(hub);
    await recording.caughtUp(current);
    const counts = Object.fromEntries(['pending', 'assigned', 'running', 'retrying', 'completed', 'failed', 'cancelled'].map((state) => [state, current.records.filter((r) => r.kind === 'job' && r.state === state).length]));
    for (const open of [early, late]) {
      await expect.poll(() => statesOn(open.page, '.badge'), { timeout: 10_000 }).toEqual(expectedStates(current.records, 'connector'));
      await expect.poll(() => statesOn(open.page, '.card.machine')).toEqual(expectedStates(current.records, 'machine'));
      await expect.poll(() => statesOn(open.page, 'li.worker')).toEqual(expectedStates(current.records, 'worker'));
      await expect.poll(() => tiles(open)).toEqual(counts);
      // The job nobody serves is flagged, not left to look like a busy queue.
      expect(await open.page.textContent('.alert')).toMatch(/No connector online serves gpu-render: 1 job waiting/);
    }
    await screenshot(early.page, 'a-overview-opened-early');
    await screenshot(late.page, 'a-overview-opened-late');

    for (const open of [early, late]) {
      await open.page.click('nav >> text=Jobs');
      await expect.poll(() => statesOn(open.page, '.table .row'), { timeout: 10_000 }).toEqual(expectedStates(current.records, 'job'));
    }
    await screenshot(late.page, 'a-jobs');
    expect([...early.errors, ...late.errors]).toEqual([]);
  });

  it('(b) killing a worker turns its badges offline within the heartbeat window, and its machine stays, greyed', async () => {
    const hub = await testHub();
    const open = await openPage(browser(), hub.url);
    await live(open);
    const child = await spawnWorker(hub.url, { id: 'doomed', machineId: 'box', connectors: ['simulation', 'simulation'] });
    await open.page.waitForSelector('.badge[data-id="doomed/simulation-1"][data-state="idle"]');
    child.process.kill('SIGKILL');
    // A killed worker's connection drops at once; the stale window is the longest it may take.
    const window = FAST_TIMINGS.staleAfterMs + 5_000;
    await open.page.waitForSelector('.badge[data-id="doomed/simulation-1"][data-state="offline"]', { timeout: window });
    await open.page.waitForSelector('.badge[data-id="doomed/simulation-2"][data-state="offline"]', { timeout: window });
    await open.page.waitForSelector('.card.machine[data-id="box"][data-state="offline"]', { timeout: window });
    expect(await open.page.textContent('.card.machine[data-id="box"]')).toMatch(/remove/);
    await screenshot(open.page, 'b-worker-killed');
    expect(open.errors).toEqual([]);
  });

  it('(c) resyncs without a reload when the hub restarts', async () => {
    const port = await freePort();
    let hub: Hub = await startHub({ port, logger: false, timings: FAST_TIMINGS });
    try {
      await testWorker(hub, { id: 'before', machineId: 'old-box' });
      const open = await openPage(browser(), hub.url);
      await live(open);
      await open.page.waitForSelector('.card.machine[data-id="old-box"]');
      await open.page.evaluate(() => ((window as unknown as { marker: number }).marker = 42));

      await hub.close();
      await open.page.waitForSelector('[data-connection="reconnecting"]');
      hub = await startHub({ port, logger: false, timings: FAST_TIMINGS });
      await testWorker(hub, { id: 'after', machineId: 'new-box' });
      await open.page.waitForSelector('[data-connection="resynced"]', { timeout: 15_000 });
      await open.page.waitForSelector('.badge[data-id="after/simulation-1"][data-state="idle"]');

      // The page was not reloaded, and it shows the new hub's state, not the old one's.
      expect(await open.page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(42);
      const current = await snapshot(hub);
      await expect.poll(() => statesOn(open.page, '.card.machine')).toEqual(expectedStates(current.records, 'machine'));
      await expect.poll(() => statesOn(open.page, '.badge')).toEqual(expectedStates(current.records, 'connector'));
      await screenshot(open.page, 'c-hub-restarted');
      // Only the refused reconnection attempts while the hub was down may complain.
      expect(open.errors.filter((error) => !/WebSocket connection .* failed/.test(error))).toEqual([]);
    } finally {
      await hub.close();
    }
  });

  it('(d) a job submitted from the Submit page is seen progressing to completed', async () => {
    const hub = await testHub();
    await testWorker(hub, { id: 'w1' });
    const open = await openPage(browser(), `${hub.url}/#/submit`);
    await live(open);
    await open.page.fill('input[name="type"]', 'simulation');
    await open.page.fill('textarea[name="payload"]', '{ "durationMs": 1500, "steps": 5 }');
    await open.page.click('button[type="submit"]');
    const row = '.live-job';
    await open.page.waitForSelector(`${row}[data-state="running"]`);
    await screenshot(open.page, 'd-submit-running');
    await open.page.waitForSelector(`${row}[data-state="completed"]`, { timeout: 15_000 });
    expect(await open.page.textContent(row)).toMatch(/100%/);
    await screenshot(open.page, 'd-submit-completed');

    // A bad payload is refused with the hub's message, and nothing is submitted.
    await open.page.fill('textarea[name="payload"]', '{ not json');
    await open.page.click('button[type="submit"]');
    expect(await open.page.textContent('.form .error')).toMatch(/payload is not JSON/);
    expect(await open.page.$$eval(row, (rows) => rows.length)).toBe(1);
    expect(open.errors).toEqual([]);
  });

  it('keeps a badge focused from the keyboard, its tooltip open and up to date, while the records around it change', async () => {
    const hub = await testHub();
    await testWorker(hub, { id: 'w1', machineId: 'm1', simulations: 2 });
    const open = await openPage(browser(), hub.url);
    await live(open);
    await open.page.waitForSelector('.badge[data-id="w1/simulation-1"][data-state="idle"]');
    await open.page.focus('.badge[data-id="w1/simulation-1"]');
    // Changes all around it: jobs on both connectors, a second worker on the machine.
    for (let index = 0; index < 6; index++) await submit(hub, { type: 'simulation', payload: { durationMs: 150, steps: 3 } });
    await testWorker(hub, { id: 'w2', machineId: 'm1' });
    await open.page.waitForSelector('li.worker[data-id="w2"]');
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(await open.page.evaluate(() => (document.activeElement as HTMLElement | null)?.dataset.id)).toBe('w1/simulation-1');
    const tooltip = await open.page.textContent('[role="tooltip"]');
    expect(tooltip).toMatch(/^w1\/simulation-1: \w+ since \d+ s ago/);
    expect(tooltip).toBe(await open.page.getAttribute('.badge[data-id="w1/simulation-1"]', 'data-tip'));
    expect(open.errors).toEqual([]);
  });

  it('asks for a token when the hub needs one, says when it is refused, and goes live with a good one', async () => {
    const hub = await testHub({ tokens: { 'm-secret': 'monitor', 'w-secret': 'worker' } });
    const open = await openPage(browser(), hub.url, { colorScheme: 'dark' });
    await open.page.waitForSelector('text=This hub needs a token');
    await screenshot(open.page, 'token-prompt-dark');
    await open.page.fill('.token input', 'w-secret');
    await open.page.click('.token button');
    await open.page.waitForSelector('text=may not read this hub');
    await open.page.fill('.token input', 'm-secret');
    await open.page.click('.token button');
    await live(open);
    expect(await open.page.textContent('.empty')).toMatch(/No machine has connected yet/);
    await screenshot(open.page, 'token-accepted-empty-dark');
  });
});
