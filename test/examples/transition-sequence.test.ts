import { afterAll, beforeAll, expect, it } from 'vitest';
import { startHub, type Hub } from 'statehub';
import { createWorker, simulationConnector, type Worker } from 'statehub/worker';
import { recordHub, type HubRecording } from 'statehub/testing';

let hub: Hub;
let worker: Worker;
let recording: HubRecording;

beforeAll(async () => {
  hub = await startHub({ port: 0, logger: false }); // a hub in this process, on a free port
  worker = createWorker({ hub: hub.url, connectors: [simulationConnector()] });
  await worker.ready();
  recording = await recordHub(hub.url); // a monitor that keeps every record it sees
});

afterAll(async () => {
  recording.close();
  await worker.stop();
  await hub.close();
});

it('retries a failed attempt after its backoff, then completes', async () => {
  const response = await fetch(`${hub.url}/api/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'simulation', backoffMs: 100, payload: { durationMs: 50, failTimes: 1 } }),
  });
  const job = await response.json();
  await recording.waitFor(job.id, 'completed');

  // The states it went through, in order (a state held over several changes counts once).
  recording.expect(job.id, 'pending > assigned > running > retrying > pending > assigned > running > completed');

  // Why each change happened: the hub records the event with every change.
  const history = await (await fetch(`${hub.url}/api/actors/${job.id}/history`)).json();
  const events = history.entries.map((entry: { event: { type: string } }) => entry.event.type).filter((type: string) => type !== 'PROGRESS');
  expect(events).toEqual(['xstate.init', 'ASSIGN', 'START', 'FAIL', 'xstate.after.retryBackoff.job.retrying', 'ASSIGN', 'START', 'COMPLETE']);
});
