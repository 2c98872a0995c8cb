/**
 * The inspector in real Chromium against a real hub and real workers: the actor view follows a
 * job to `completed` and travels back to one of its changes; the fleet chart's counts equal the
 * snapshot at the offset it drew them at, while jobs run, and its arrows (the last minute, from
 * the log) are the same on a page opened 20 s after the jobs ran; every badge and state opens the actor.
 * Screenshots go to test-artifacts/inspector-*.png.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Page } from 'playwright-core';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { ConnectorImplementation, RunContext } from 'statehub/worker';
import type { ActorRecord, ChangeEvent } from '../../src/protocol/record.js';
import { connectorMachine } from 'statehub/machines';
import { definitionVersion, describeMachine } from '../../src/protocol/definition.js';
import { deferred } from '../helpers/connectors.js';
import { api, snapshot, submit, testHub, testRecording, testWorker } from '../helpers/hub.js';
import { idleSnapshot, RawWorker } from '../helpers/raw-worker.js';
import { openPage, screenshot, useBrowser, type OpenPage } from '../helpers/browser.js';

const browser = useBrowser();

async function live(open: OpenPage): Promise<void> {
  await open.page.waitForSelector('[data-connection="live"], [data-connection="resynced"]');
}

/** The chart's state node, lit or not. */
function stateNode(id: string, active: boolean): string {
  return `.chart-svg [data-state-id="${id}"][data-active="${active}"]`;
}

/**
 * A connector the test moves by hand: the job runs until the test finishes it, and reports the
 * progress the test gives it, so each step is a record of its own.
 */
function handCrankedConnector() {
  const started = deferred<RunContext>();
  const finish = deferred<void>();
  const implementation: ConnectorImplementation = {
    type: 'cranked',
    async run(_job, context) {
      started.resolve(context);
      await finish.promise;
      return { cranked: true };
    },
  };
  return { implementation, started: started.promise, finish: () => finish.resolve() };
}

interface HistoryEntry {
  offset: string;
  record: ActorRecord;
  event?: ChangeEvent;
}

async function history(url: string, id: string): Promise<HistoryEntry[]> {
  return (await api(url, 'GET', `/api/actors/${encodeURIComponent(id)}/history`)).body.entries;
}

async function timelineSeqs(page: Page): Promise<number[]> {
  return page.$$eval('table.timeline tbody tr', (rows) => rows.map((row) => Number((row as HTMLElement).dataset.seq)));
}

/** Browser tests share two cores with the rest of the suite: a step may wait long on a busy machine. */
const PATIENCE = { timeoutMs: 30_000 };

describe('the actor view', () => {
  it('follows a running job to completed, then travels back to its change at 30 % (chart, event, context, diff, address) and returns to live', async () => {
    const hub = await testHub({ retention: { keepFinishedMs: 120_000 } });
    const recording = await testRecording(hub);
    const cranked = handCrankedConnector();
    await testWorker(hub, { id: 'w1', connectors: [cranked.implementation] });
    const job = await submit(hub, { type: 'cranked' });
    const run = await cranked.started;
    await recording.waitFor(job.id, 'running', PATIENCE);

    const open = await openPage(browser(), 'about:blank');
    const historyReads: string[] = [];
    open.page.on('request', (request) => request.url().includes('/history') && historyReads.push(request.url()));
    await open.page.goto(`${hub.url}/#/actors/${job.id}`);
    await live(open);
    await open.page.waitForSelector(stateNode('job.running', true));
    await open.page.waitForSelector('table.timeline tbody tr[data-state="running"]');
    expect(await open.page.$$eval('.chart-svg [data-active="true"]', (nodes) => nodes.map((node) => (node as HTMLElement).dataset.stateId))).toEqual(['job.running']);
    await screenshot(open.page, 'inspector-actor-running');

    for (const percent of [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]) {
      run.progress(percent);
      await recording.waitFor(job.id, (record) => record.snapshot.context.progress === percent, PATIENCE);
    }
    cranked.finish();
    await recording.waitFor(job.id, 'completed', PATIENCE);
    await open.page.waitForSelector(stateNode('job.completed', true));
    await open.page.waitForSelector(stateNode('job.running', false));
    // The step that got it there is drawn heavier: COMPLETE, from running.
    expect(await open.page.getAttribute('.chart-svg [data-edge="job.running->job.completed"]', 'data-taken')).toBe('1');
    const entries = await history(hub.url, job.id);
    await expect.poll(() => timelineSeqs(open.page), { timeout: 10_000 }).toEqual(entries.map((entry) => entry.record.seq));
    // Each change with the event that caused it, the ones that came live too: the page's own
    // monitor of this actor streams them, and the history was read once, when the page opened.
    expect(entries.every((entry) => entry.event !== undefined)).toBe(true);
    expect(await open.page.$$eval('table.timeline td.event', (cells) => cells.map((cell) => cell.textContent))).toEqual(entries.map((entry) => entry.event?.type));
    expect(historyReads).toHaveLength(1);
    expect(await open.page.getAttribute('.actor-view', 'data-mode')).toBe('live');
    await screenshot(open.page, 'inspector-actor-completed');

    // Back to the change that made it 30 %.
    const at30 = entries.findIndex((entry) => entry.record.state === 'running' && entry.record.snapshot.context.progress === 30);
    const change = entries[at30] as HistoryEntry;
    const before = entries[at30 - 1] as HistoryEntry;
    await open.page.click(`table.timeline tr[data-offset="${change.offset}"] td:nth-child(4)`);
    await open.page.waitForSelector(`.change-details[data-offset="${change.offset}"]`);
    expect(new URL(open.page.url()).hash).toBe(`#/actors/${job.id}?at=${encodeURIComponent(change.offset)}`);
    expect(await open.page.getAttribute('.actor-view', 'data-mode')).toBe('travel');
    await open.page.waitForSelector(stateNode('job.running', true));
    await open.page.waitForSelector(stateNode('job.completed', false));
    // The context exactly as stored at that offset, and what the change did to it.
    expect(JSON.parse((await open.page.textContent('pre.context')) ?? '')).toEqual(change.record.snapshot.context);
    expect(await open.page.$$eval('table.diff tbody tr', (rows) => rows.map((row) => [...row.querySelectorAll('td')].map((cell) => cell.textContent)))).toEqual([['progress', '20', '30']]);
    expect(before.record.snapshot.context.progress).toBe(20);
    // The event that caused it, with its fields.
    expect(change.event).toEqual({ type: 'PROGRESS', progress: 30 });
    expect(await open.page.textContent('.change-facts .event code')).toBe('PROGRESS');
    expect(JSON.parse((await open.page.textContent('.change-facts .event pre')) ?? '')).toEqual(change.event);
    await screenshot(open.page, 'inspector-actor-travel-30');

    // Stepping with the keys: one back is 20 %, one forward 30 % again.
    await open.page.keyboard.press('ArrowLeft');
    await open.page.waitForSelector(`.change-details[data-offset="${before.offset}"]`);
    await open.page.keyboard.press('ArrowRight');
    await open.page.waitForSelector(`.change-details[data-offset="${change.offset}"]`);

    // The address alone opens the same change.
    const shared = await openPage(browser(), open.page.url());
    await shared.page.waitForSelector(`.change-details[data-offset="${change.offset}"]`);
    expect(JSON.parse((await shared.page.textContent('pre.context')) ?? '')).toEqual(change.record.snapshot.context);
    await shared.page.waitForSelector(stateNode('job.running', true));

    // "live" comes back to now.
    await open.page.click('button.live');
    await open.page.waitForSelector('.actor-view[data-mode="live"]');
    await open.page.waitForSelector(stateNode('job.completed', true));
    expect(new URL(open.page.url()).hash).toBe(`#/actors/${job.id}`);
    expect([...open.errors, ...shared.errors]).toEqual([]);
  }, 90_000);

  it('opens from a connector badge, a job’s state and the id box; lights nested states; draws another build’s connector from its own definition, and says so when the hub lacks it', async () => {
    // Slow heartbeat windows: the hand-spoken worker below sends none, and must stay as it registered.
    const hub = await testHub({ timings: { heartbeatMs: 1_000, staleAfterMs: 60_000, offlineAfterMs: 120_000 } });
    const recording = await testRecording(hub);
    await testWorker(hub, { id: 'w1', machineId: 'm1' });
    const job = await submit(hub, { type: 'simulation', payload: { durationMs: 10 } });
    await recording.waitFor(job.id, 'completed', PATIENCE);

    const open = await openPage(browser(), hub.url);
    await live(open);
    await open.page.click('.badge[data-id="w1/simulation-1"]');
    await open.page.waitForSelector('.actor-view[data-actor="w1/simulation-1"]');
    expect(new URL(open.page.url()).hash).toBe(`#/actors/${encodeURIComponent('w1/simulation-1')}`);
    await open.page.waitForSelector(stateNode('connector.idle.ready', true));
    await open.page.waitForSelector(stateNode('connector.idle', true));
    await open.page.waitForSelector(stateNode('connector.active', false));
    await screenshot(open.page, 'inspector-actor-connector');

    await open.page.click('nav >> text=Jobs');
    await open.page.click(`.table .row[data-id="${job.id}"] .col-state a.state`);
    await open.page.waitForSelector(`.actor-view[data-actor="${job.id}"]`);
    await open.page.waitForSelector(stateNode('job.completed', true));
    await open.page.click('a:has-text("job page")');
    await open.page.click('.job-head a.state');
    await open.page.waitForSelector(`.actor-view[data-actor="${job.id}"][data-mode="live"]`);

    await open.page.fill('input[aria-label="open an actor by id"]', 'w1');
    await open.page.press('input[aria-label="open an actor by id"]', 'Enter');
    await open.page.waitForSelector('.actor-view[data-actor="w1"]');
    await open.page.waitForSelector(stateNode('worker.ready', true));

    // A worker of another build that declares its connector machine (one more state under idle):
    // its connector is drawn from that definition, and the fleet chart counts it apart.
    const ours = describeMachine(connectorMachine);
    const root = structuredClone(ours.root);
    root.states.find((state) => state.key === 'idle')?.states.push({ id: 'connector.idle.warming', key: 'warming', type: 'atomic', invoke: [], transitions: [], states: [] });
    const theirs = { id: ours.id, version: definitionVersion(ours.id, root), root };
    const declared = await RawWorker.connect(hub.url);
    onTestFinished(() => declared.close());
    await declared.register({
      workerId: 'new',
      machineId: 'm2',
      connectors: [{ id: 'new/c1', type: 'new', snapshot: await idleSnapshot('new/c1', 'new'), version: theirs.version }],
      connectorMachine: theirs,
    });
    await recording.waitFor('new/c1', 'idle', PATIENCE);
    await open.page.fill('input[aria-label="open an actor by id"]', 'new/c1');
    await open.page.press('input[aria-label="open an actor by id"]', 'Enter');
    await open.page.waitForSelector('.actor-view[data-actor="new/c1"] .chart-svg [data-state-id="connector.idle.warming"]');
    await open.page.waitForSelector(stateNode('connector.idle.ready', true));
    await open.page.click('a:has-text("all connectors")');
    await open.page.waitForSelector('.fleet-view[data-kind="connector"] .chart-svg');
    expect(await open.page.$$('.chart-svg [data-state-id="connector.idle.warming"]')).toHaveLength(0);
    expect(await open.page.textContent('.fleet-view .note')).toBe(`Not on this chart, made by another definition: 1 connector of version ${theirs.version}.`);
    expect(await open.page.getAttribute('.chart-svg [data-state-id="connector.idle.ready"]', 'data-count')).toBe('1');
    await screenshot(open.page, 'inspector-fleet-connectors');

    // A worker of another build that does not declare it: the hub has no such version, and the page says so.
    const raw = await RawWorker.connect(hub.url);
    onTestFinished(() => raw.close());
    await raw.register({ workerId: 'old', machineId: 'm3', connectors: [{ id: 'old/c1', type: 'old', snapshot: await idleSnapshot('old/c1', 'old'), version: 'feedfacefeedface' }] });
    await recording.waitFor('old/c1', 'idle', PATIENCE);
    await open.page.fill('input[aria-label="open an actor by id"]', 'old/c1');
    await open.page.press('input[aria-label="open an actor by id"]', 'Enter');
    await open.page.waitForSelector('.actor-view[data-actor="old/c1"] .chart-missing');
    const missing = (await open.page.textContent('.chart-missing')) ?? '';
    expect(missing).toMatch(/^No chart to draw: /);
    expect(missing).toContain(ours.version);
    expect(missing).toContain('feedfacefeedface');
    expect(await open.page.$$('.chart-svg')).toHaveLength(0);
    await screenshot(open.page, 'inspector-actor-unknown-version');
    expect(open.errors.filter((error) => !error.includes('404'))).toEqual([]);
  }, 90_000);
});

describe('the fleet chart', () => {
  it('counts live jobs per state equal to the snapshot at the offset it drew them at, while jobs run, draws the transitions taken heavier, and lists a state’s jobs', async () => {
    const hub = await testHub({ retention: { keepFinishedMs: 120_000 } });
    const recording = await testRecording(hub);
    // Job counts per chart state at every offset the log passed through, from a second monitor.
    const expected = new Map<string, Record<string, number>>();
    const view = recording.monitor.view;
    const countJobs = () => {
      const counts: Record<string, number> = {};
      for (const record of view.records.values()) {
        if (record.kind !== 'job') continue;
        counts.job = (counts.job ?? 0) + 1;
        counts[`job.${record.state}`] = (counts[`job.${record.state}`] ?? 0) + 1;
      }
      return counts;
    };
    let counts = countJobs();
    if (view.offset) expected.set(view.offset, { ...counts });
    onTestFinished(
      view.subscribe((changes, reset) => {
        if (reset) {
          counts = countJobs();
          expected.set(view.offset ?? '', { ...counts });
          return;
        }
        for (const { record, previous, offset } of changes) {
          if (record.kind === 'job') {
            for (const [key, by] of [
              [previous && 'job', -1],
              [previous && `job.${previous.state}`, -1],
              [!record.removed && 'job', 1],
              [!record.removed && `job.${record.state}`, 1],
            ] as const) {
              if (key) counts[key] = (counts[key] ?? 0) + by;
            }
          }
          expected.set(offset, { ...counts });
        }
      }),
    );

    await testWorker(hub, { id: 'w1', machineId: 'm1', simulations: 3 });
    const open = await openPage(browser(), `${hub.url}/#/machines/job`);
    await live(open);
    await open.page.waitForSelector('.chart-svg[data-offset]');
    const jobs = [];
    for (let index = 0; index < 12; index++) jobs.push(await submit(hub, { type: 'simulation', payload: { durationMs: 1_500 + index * 100, steps: 5 } }));

    /** What the page shows: its offset and its count on each state. */
    const read = () =>
      open.page.$eval('.chart-svg', (svg) => ({
        offset: (svg as SVGElement).dataset.offset ?? '',
        counts: Object.fromEntries([...svg.querySelectorAll('[data-state-id][data-count]')].map((node) => [(node as SVGElement).dataset.stateId, Number((node as SVGElement).dataset.count)])),
        total: Number(document.querySelector('[data-total]')?.getAttribute('data-total')),
      }));
    const nonZero = (record: Record<string, number>) => Object.fromEntries(Object.entries(record).filter(([, count]) => count !== 0));
    let samples = 0;
    let whileRunning = 0;
    let last = '';
    while (jobs.some((job) => recording.view.get(job.id)?.state !== 'completed')) {
      // A new reading each time: wait until the page drew another offset.
      await open.page.waitForFunction((before) => document.querySelector('.chart-svg')?.getAttribute('data-offset') !== before, last, { timeout: 15_000 });
      const shown = await read();
      last = shown.offset;
      await expect.poll(() => expected.has(shown.offset), { timeout: 10_000 }).toBe(true);
      const truth = expected.get(shown.offset) as Record<string, number>;
      const { job: total = 0, ...perState } = nonZero(truth);
      expect(nonZero(shown.counts), `at offset ${shown.offset}`).toEqual(perState);
      expect(shown.total).toBe(total);
      samples += 1;
      if ((truth['job.running'] ?? 0) > 0) whileRunning += 1;
      if (whileRunning === 3) await screenshot(open.page, 'inspector-fleet-jobs-running');
    }
    expect(samples).toBeGreaterThanOrEqual(3);
    expect(whileRunning).toBeGreaterThanOrEqual(3);

    // Quiet again: the page equals GET /api/snapshot.
    const now = await snapshot(hub, '?kinds=job');
    const fromSnapshot: Record<string, number> = {};
    for (const record of now.records) fromSnapshot[`job.${record.state}`] = (fromSnapshot[`job.${record.state}`] ?? 0) + 1;
    await expect.poll(async () => nonZero((await read()).counts), { timeout: 10_000 }).toEqual(fromSnapshot);
    // Each job ran and completed while the page watched: those arrows are drawn heavier.
    const taken = (edge: string) => open.page.getAttribute(`.chart-svg [data-edge="${edge}"]`, 'data-taken').then(Number);
    for (const edge of ['job.pending->job.assigned', 'job.assigned->job.running', 'job.running->job.completed']) {
      expect(await taken(edge), edge).toBeGreaterThan(0);
      expect(await taken(edge), edge).toBeLessThanOrEqual(jobs.length);
    }
    expect(await taken('job.running->job.failed')).toBe(0);

    // A state lists its jobs.
    await open.page.click('.chart-svg [data-state-id="job.completed"]');
    await open.page.waitForSelector('.members');
    expect(new URL(open.page.url()).hash).toBe('#/machines/job?state=job.completed');
    expect(await open.page.$$eval('.member-list li', (items) => items.map((item) => (item as HTMLElement).dataset.id).sort())).toEqual(jobs.map((job) => job.id).sort());
    await screenshot(open.page, 'inspector-fleet-jobs-done');
    expect(open.errors).toEqual([]);
  }, 90_000);

  it('draws the same arrows on a page opened before the jobs ran and on one opened 20 s later: the last minute comes from the log', async () => {
    const hub = await testHub({ retention: { keepFinishedMs: 120_000 } });
    const recording = await testRecording(hub);
    await testWorker(hub, { id: 'w1', machineId: 'm1', simulations: 2 });
    const openedAt = Date.now();
    const early = await openPage(browser(), `${hub.url}/#/machines/job`);
    await live(early);
    await early.page.waitForSelector('.chart-svg[data-offset]');

    const jobs = [
      ...(await Promise.all([0, 1, 2, 3].map(() => submit(hub, { type: 'simulation', payload: { durationMs: 300, steps: 3 } })))),
      await submit(hub, { type: 'simulation', backoffMs: 50, payload: { durationMs: 100, steps: 1, failTimes: 1 } }),
      await submit(hub, { type: 'simulation', maxAttempts: 1, payload: { durationMs: 50, failTimes: 1, failWith: 'no luck' } }),
      await submit(hub, { type: 'nobody-serves-this' }),
    ];
    await api(hub, 'POST', `/api/jobs/${jobs[6].id}/cancel`);
    for (const job of jobs) await recording.waitFor(job.id, (record) => ['completed', 'failed', 'cancelled'].includes(record.state), PATIENCE);

    await sleep(Math.max(0, openedAt + 20_000 - Date.now()));
    const late = await openPage(browser(), `${hub.url}/#/machines/job`);
    await live(late);
    await late.page.waitForSelector('.chart-svg[data-offset]');

    /** Each arrow's count and each transition's line, as drawn. */
    const arrows = (open: OpenPage) =>
      open.page.$eval('.chart-svg', (svg) => ({
        edges: Object.fromEntries([...svg.querySelectorAll('[data-edge]')].map((edge) => [(edge as SVGElement).dataset.edge, Number((edge as SVGElement).dataset.taken)])),
        lines: Object.fromEntries([...svg.querySelectorAll('text.line[data-transition]')].map((line) => [(line as SVGElement).dataset.transition, line.textContent])),
      }));
    // Read together until they agree (each page redraws as the hub's second turns), then asserted.
    const deadline = Date.now() + PATIENCE.timeoutMs;
    let both = await Promise.all([arrows(early), arrows(late)]);
    while (JSON.stringify(both[0]) !== JSON.stringify(both[1]) && Date.now() < deadline) {
      await sleep(250);
      both = await Promise.all([arrows(early), arrows(late)]);
    }
    const [before, after] = both;
    expect(after).toEqual(before);
    // What the jobs did, on both: six of the seven ran (one twice), five completed, one failed, one was cancelled while pending.
    expect(after.edges).toMatchObject({
      'job.pending->job.assigned': 7,
      'job.assigned->job.running': 7,
      'job.running->job.completed': 5,
      'job.running->job.attemptFailed': 2,
      'job.pending->job.cancelled': 1,
    });
    await screenshot(early.page, 'inspector-fleet-early');
    await screenshot(late.page, 'inspector-fleet-late');
    expect([...early.errors, ...late.errors]).toEqual([]);
  }, 90_000);
});
