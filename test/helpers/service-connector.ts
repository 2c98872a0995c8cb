/**
 * Running one connector under test against a fake service (fake-server.ts): a hub, a recording,
 * a worker embedding it, and what tests read from its records.
 */
import type { ActorRecord, Hub } from 'statehub';
import type { ConnectorImplementation } from 'statehub/worker';
import type { HubRecording } from 'statehub/testing';
import type { FakeServer, Pause } from './fake-server.js';
import { api, submit, testHub, testRecording, testWorker } from './hub.js';

export const context = (record: ActorRecord) => record.snapshot.context as Record<string, any>;

/**
 * The product's heartbeat window rather than the fast one of other tests: these tests are about
 * the service, and a worker that misses a 300 ms window on a busy machine turns stale and
 * changes the sequences they assert.
 */
export const SERVICE_TEST_TIMINGS = { heartbeatMs: 100, staleAfterMs: 3_000, offlineAfterMs: 10_000 };

/** A hub, its recording, and a worker embedding `connector`; every progress report reaches the hub, so tests can read each one. */
export async function connectorHub(connector: ConnectorImplementation) {
  const hub = await testHub({ timings: SERVICE_TEST_TIMINGS });
  const recording = await testRecording(hub);
  const worker = await testWorker(hub, { id: `${connector.type}-worker`, connectors: [connector], progressIntervalMs: 0 });
  return { hub, recording, worker };
}

/** Waits for the job to complete and gives its result. */
export async function resultOf(recording: HubRecording, jobId: string): Promise<any> {
  return context(await recording.waitFor(jobId, 'completed')).result;
}

/** The job's progress reports (percent and message), in order. */
export function progressReports(records: ActorRecord[]): { progress: number; message: string }[] {
  return records
    .filter((record) => record.state === 'running' && context(record).progressMessage !== null)
    .map((record) => ({ progress: context(record).progress, message: context(record).progressMessage }));
}

/** The progress messages the job's records carried, in order, repeats dropped. */
export function progressMessages(recording: HubRecording, jobId: string): string[] {
  const messages = recording.records(jobId).map((record) => context(record).progressMessage as string | null);
  return messages.filter((message, index): message is string => message !== null && message !== messages[index - 1]);
}

/** Resolves once the job reported progress with a message matching `pattern`. */
export function reported(recording: HubRecording, jobId: string, pattern: RegExp): Promise<ActorRecord> {
  return recording.waitFor(jobId, (record) => pattern.test(context(record).progressMessage ?? ''));
}

/** The first record of the actor in `state`. */
export function recordIn(recording: HubRecording, id: string, state: string): ActorRecord {
  const record = recording.records(id).find((candidate) => candidate.state === state);
  if (!record) throw new Error(`${id} was never ${state}: ${recording.states(id).join(' > ')}`);
  return record;
}

export async function cancelJob(hub: Hub, jobId: string): Promise<void> {
  const answer = await api(hub, 'POST', `/api/jobs/${jobId}/cancel`);
  if (answer.status !== 200) throw new Error(`cancel failed: ${answer.status} ${JSON.stringify(answer.body)}`);
}

/**
 * Asserts the actor's whole state sequence once it has had the time to get there: a connector's
 * last change may arrive after its job's. A sequence it never reaches fails with both sequences.
 */
export async function expectStates(recording: HubRecording, id: string, sequence: string): Promise<void> {
  await recording.until(() => recording.states(id).join(' > ') === sequence, `${id} to go ${sequence}`).catch(() => {});
  recording.expect(id, sequence);
}

/** While `pause` holds the job's stream: waits for its progress report saying `message`, lets the stream go on, and gives the percent reported with it. */
export async function progressWhilePaused(recording: HubRecording, jobId: string, pause: Pause, message: string): Promise<number> {
  await pause.reached;
  const record = await recording.waitFor(jobId, (candidate) => context(candidate).progressMessage === message);
  pause.release();
  return context(record).progress as number;
}

/** Submits `job`, cancels it once its stream is paused after a token, and waits until the service saw its request (`METHOD /path`) dropped; gives the job's id. */
export async function cancelMidStream(service: FakeServer, hub: Hub, recording: HubRecording, job: Record<string, unknown>, route: string): Promise<string> {
  const paused = service.pause(1);
  const { id } = await submit(hub, job);
  await paused.reached;
  await recording.waitFor(id, 'running');
  await cancelJob(hub, id);
  await service.until(() => service.requests.some((request) => `${request.method} ${request.path}` === route && request.abandoned), `${route} to be dropped`);
  await recording.waitFor(id, 'cancelled');
  paused.release();
  return id;
}
