/**
 * The monitor UI at scale, in real Chromium: 2,000 workers x 4 connectors and 100,000 jobs.
 * Measures the time from opening the page to its first full render, the jobs table with every
 * job in it, and the cost of applying one batch of changes in the browser; each against the
 * same measure on an empty hub in the same run.
 *
 *   npm run bench:ui [-- --workers 2000 --jobs 100000]
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { chromium, type Page } from 'playwright-core';
import { connectorMachine } from '../machines/connector.js';
import { jobMachine } from '../machines/job.js';
import { hostMachine } from '../machines/machine.js';
import { workerMachine } from '../machines/worker.js';
import { startHub, type Hub } from '../src/hub/hub.js';
import { Stepper } from '../src/hub/step.js';
import { topState, type ActorRecord, type Kind } from '../src/protocol/record.js';

const { values } = parseArgs({ options: { workers: { type: 'string', default: '2000' }, jobs: { type: 'string', default: '100000' }, batch: { type: 'string', default: '1000' } } });
const WORKERS = Number(values.workers);
const JOBS = Number(values.jobs);
const BATCH = Number(values.batch);
const WORKERS_PER_MACHINE = 4;
const CONNECTORS_PER_WORKER = 4;

const steppers = { job: new Stepper(jobMachine), connector: new Stepper(connectorMachine), worker: new Stepper(workerMachine), machine: new Stepper(hostMachine) };
const now = new Date().toISOString();

function record(kind: Kind, id: string, snapshot: ActorRecord['snapshot'], parentId?: string, seq = 1): ActorRecord {
  return { id, kind, ...(parentId ? { parentId } : {}), seq, state: topState(snapshot.value), snapshot, updatedAt: now };
}

/** Actors as the hub would hold them: the machines' own initial snapshots, moved along a little. */
function population(workers: number, jobs: number): ActorRecord[] {
  const records: ActorRecord[] = [];
  for (let w = 0; w < workers; w++) {
    const machineId = `machine-${Math.floor(w / WORKERS_PER_MACHINE)}`;
    if (w % WORKERS_PER_MACHINE === 0) {
      const { snapshot } = steppers.machine.initial({ id: machineId });
      records.push(record('machine', machineId, steppers.machine.next(snapshot, { type: 'WORKERS', online: 4, total: 4 }).snapshot));
    }
    const workerId = `${machineId}-w${w % WORKERS_PER_MACHINE}`;
    const connectorIds = Array.from({ length: CONNECTORS_PER_WORKER }, (_, c) => `${workerId}/render-${c + 1}`);
    const input = { id: workerId, sessionId: 's', machineId, capabilities: { gpu: 1 }, connectorIds };
    records.push(record('worker', workerId, steppers.worker.initial(input).snapshot, machineId));
    for (const connectorId of connectorIds) records.push(record('connector', connectorId, steppers.connector.initial({ id: connectorId, type: 'render' }).snapshot, workerId));
  }
  for (let j = 0; j < jobs; j++) {
    const { snapshot } = steppers.job.initial({ type: j % 3 === 0 ? 'upscale' : 'render', payload: { prompt: `a picture ${j}`, steps: 20 }, priority: j % 5, createdAt: now });
    records.push(record('job', `job-${String(j).padStart(6, '0')}`, snapshot));
  }
  return records;
}

async function seed(hub: Hub, records: ActorRecord[]): Promise<void> {
  for (let start = 0; start < records.length; start += 5_000) await hub.store.commit({ records: records.slice(start, start + 5_000) });
}

/** Cancels `count` pending jobs in one commit: one `transitions` message for the monitors. */
async function batchOfChanges(hub: Hub, count: number): Promise<number> {
  const { records } = await hub.store.snapshot(['job']);
  const changed = records
    .filter((job) => job.state === 'pending')
    .slice(0, count)
    .map((job) => {
      const { snapshot } = steppers.job.next(job.snapshot, { type: 'CANCEL' });
      return { ...job, seq: job.seq + 1, state: topState(snapshot.value), snapshot, updatedAt: new Date().toISOString() };
    });
  if (changed.length > 0) await hub.store.commit({ records: changed });
  return changed.length;
}

const tileCount = (page: Page, state: string) => page.$eval(`.tile[data-state="${state}"] .count`, (element) => Number(element.textContent?.replace(/\D/g, '')));

async function measure(label: string, workers: number, jobs: number) {
  const hub = await startHub({ port: 0, logger: false, retention: { keepFinishedMs: 3_600_000, maxFinished: 10_000_000 } });
  const records = population(workers, jobs);
  await seed(hub, records);
  const bytes = Buffer.byteLength(JSON.stringify(await hub.store.snapshot()));
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Performance.enable');
    const taskSeconds = async () => (await cdp.send('Performance.getMetrics')).metrics.find((metric) => metric.name === 'TaskDuration')?.value ?? 0;

    await page.goto(hub.url);
    // The page marks its first frame rendered once live (User Timing, from navigation start).
    await page.waitForFunction(() => performance.getEntriesByName('statehub:first-render').length > 0, undefined, { timeout: 120_000, polling: 200 });
    const firstRender = await page.evaluate(() => performance.getEntriesByName('statehub:first-render')[0]!.startTime);
    const snapshotFetched = await page.evaluate(() => performance.getEntriesByName('statehub:snapshot-fetched')[0]?.startTime ?? 0);
    // And it shows all of it.
    const shown = await page.evaluate(() => [Number(document.querySelector('.tile[data-state="pending"] .count')?.textContent?.replace(/\D/g, '')), document.querySelectorAll('.card.machine').length]);
    if (shown[0] !== jobs || shown[1] !== Math.ceil(workers / WORKERS_PER_MACHINE)) throw new Error(`the first render shows ${shown.join(' jobs and ')} machines`);

    const batches: number[] = [];
    const batchTask: number[] = [];
    for (let round = 0; round < 5 && jobs > 0; round++) {
      const before = await tileCount(page, 'cancelled');
      const task = await taskSeconds();
      const started = performance.now();
      const changed = await batchOfChanges(hub, BATCH);
      if (changed === 0) break;
      await page.waitForFunction((expected) => Number(document.querySelector('.tile[data-state="cancelled"] .count')?.textContent?.replace(/\D/g, '')) === expected, before + changed, { timeout: 60_000, polling: 5 });
      batches.push(performance.now() - started);
      batchTask.push(((await taskSeconds()) - task) * 1000);
    }

    const tableOpened = performance.now();
    await page.click('nav >> text=Jobs');
    await page.waitForSelector(jobs > 0 ? '.table .row[data-id]' : '.table .empty', { timeout: 120_000 });
    const table = performance.now() - tableOpened;
    const scrolled = performance.now();
    if (jobs > 0) {
      const last = await page.evaluate(() => document.querySelectorAll('.table .row[data-id]').length);
      await page.$eval('.scroller', (element) => element.scrollTo(0, element.scrollHeight));
      // The rows at the end are other rows than the first screen's: wait until the last job's row is there.
      await page.waitForFunction((count) => document.querySelectorAll('.table .row[data-id]').length > 0 && count > 0 && document.querySelector('.scroller')!.scrollTop > 0, last, { timeout: 60_000 });
    }
    const scroll = performance.now() - scrolled;
    return { label, actors: records.length, snapshotMB: bytes / 1e6, snapshotFetched, firstRender, batchLatency: median(batches), batchBrowserTask: median(batchTask), table, scroll };
  } finally {
    await browser.close();
    await hub.close();
  }
}

function median(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

const baseline = await measure('empty hub (baseline)', 0, 0);
const small = await measure(`${WORKERS / 20} workers, ${JOBS / 100} jobs`, WORKERS / 20, JOBS / 100);
const full = await measure(`${WORKERS} workers x ${CONNECTORS_PER_WORKER} connectors, ${JOBS} jobs`, WORKERS, JOBS);
const rows = [baseline, small, full];
const fmt = (ms: number) => `${ms.toFixed(0)} ms`;
console.log(`\nmonitor UI in Chromium (batch = ${BATCH} job changes in one message)\n`);
console.log(['case', 'actors', 'snapshot', 'snapshot fetched', 'first full render', 'x baseline', 'batch applied (latency)', 'browser CPU per batch', 'jobs table', 'scroll to end'].join(' | '));
for (const row of rows) {
  console.log(
    [row.label, row.actors.toLocaleString(), `${row.snapshotMB.toFixed(1)} MB`, fmt(row.snapshotFetched), fmt(row.firstRender), `${(row.firstRender / baseline.firstRender).toFixed(1)}x`, fmt(row.batchLatency), fmt(row.batchBrowserTask), fmt(row.table), fmt(row.scroll)].join(' | '),
  );
}
writeFileSync(new URL('./ui-results.json', import.meta.url), JSON.stringify({ measuredAt: new Date().toISOString(), batch: BATCH, rows }, null, 2));
