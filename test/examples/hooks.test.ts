import { afterAll, beforeAll, expect, it } from 'vitest';
import { Counter, Histogram, Registry } from 'prom-client';
import { startHub, type Hub } from 'statehub';
import { createWorker, simulationConnector, type Worker } from 'statehub/worker';

// The application's own metrics, fed by the hub it embeds.
const registry = new Registry();
const finished = new Counter({ name: 'myapp_jobs_finished_total', help: 'Jobs finished, by type and outcome.', labelNames: ['type', 'state'], registers: [registry] });
const inState = new Histogram({ name: 'myapp_job_state_seconds', help: 'Time jobs spent in a state, by type and state.', labelNames: ['type', 'state'], registers: [registry] });

let hub: Hub;
let worker: Worker;

beforeAll(async () => {
  hub = await startHub({ port: 0, logger: false });
  // Called for every change of every job, in log order, with the job's record before it.
  // Keep it quick: the hub does not wait for a hook; start slow work (a network call) yourself.
  hub.on('job', ({ record, previous }) => {
    if (!previous || previous.state === record.state) return; // a new job, or progress within a state
    const type = record.snapshot.context.type;
    const since = previous.stateSince ?? previous.updatedAt;
    inState.observe({ type, state: previous.state }, (Date.parse(record.updatedAt) - Date.parse(since)) / 1000);
    if (record.state === 'completed' || record.state === 'failed') finished.inc({ type, state: record.state });
  });
  worker = createWorker({ hub: hub.url, connectors: [simulationConnector()] });
  await worker.ready();
});

afterAll(async () => {
  await worker.stop();
  await hub.close();
});

it('counts finished jobs and times their states in the application\'s registry', async () => {
  const completed = new Promise<void>((resolve) => hub.on('job', ({ record }) => record.state === 'completed' && resolve()));
  await fetch(`${hub.url}/api/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'simulation', payload: { durationMs: 50 } }),
  });
  await completed;

  const text = await registry.metrics();
  expect(text).toContain('myapp_jobs_finished_total{type="simulation",state="completed"} 1');
  for (const state of ['pending', 'assigned', 'running']) expect(text).toContain(`myapp_job_state_seconds_count{type="simulation",state="${state}"} 1`);
});
