/** A hub with one worker running one connector of a service, and what tests read from its records. */
import type { ActorRecord, Hub } from 'statehub';
import type { ConnectorImplementation } from 'statehub/worker';
import type { HubRecording } from 'statehub/testing';
import type { FakeServer, Pause } from './fake-service.js';
import { api, submit, testHub, testRecording, testWorker } from './hub.js';

export const context = (record: ActorRecord) => record.snapshot.context as Record<string, any>;

/**
 * The product's heartbeat window rather than the fast one of other tests: these tests are about
 * the service, and a worker that misses a 300 ms window on a busy machine turns stale and
 * changes the sequences they assert.
 */
export const SERVICE_TEST_TIMINGS = { heartbeatMs: 100, staleAfterMs: 3_000, offlineAfterMs: 10_000 };

export async function hubWithConnector(connector: ConnectorImplementation): Promise<{ hub: Hub; recording: HubRecording }> {
  const hub = await testHub({ timings: SERVICE_TEST_TIMINGS });
  const recording = await testRecording(hub);
  await testWorker(hub, { id: 'service-worker', simulations: 0, connectors: [connector] });
  return { hub, recording };
}

/** Waits for the job to complete and gives its result. */
export async function resultOf(recording: HubRecording, jobId: string): Promise<any> {
  return context(await recording.waitFor(jobId, 'completed')).result;
}

/** The progress messages the job's records carried, in order, repeats dropped. */
export function progressMessages(recording: HubRecording, jobId: string): string[] {
  const messages = recording.records(jobId).map((record) => context(record).progressMessage as string | null);
  return messages.filter((message, index): message is string => message !== null && message !== messages[index - 1]);
}

/** The first record of the job in `state`. */
export function recordIn(recording: HubRecording, jobId: string, state: string): ActorRecord {
  const record = recording.records(jobId).find((candidate) => candidate.state === state);
  if (!record) throw new Error(`job ${jobId} was never ${state}: ${recording.states(jobId).join(' > ')}`);
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
