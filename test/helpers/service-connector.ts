/** Running one connector under test against a fake service: a hub, a recording, a worker embedding it. */
import type { ActorRecord } from 'statehub';
import type { ConnectorImplementation } from 'statehub/worker';
import type { HubRecording } from 'statehub/testing';
import { testHub, testRecording, testWorker } from './hub.js';

export const context = (record: ActorRecord) => record.snapshot.context as Record<string, any>;

/** A hub, its recording, and a worker embedding `connector`; every progress report reaches the hub, so tests can read each one. */
export async function connectorHub(connector: ConnectorImplementation) {
  const hub = await testHub();
  const recording = await testRecording(hub);
  const worker = await testWorker(hub, { id: `${connector.type}-worker`, connectors: [connector], progressIntervalMs: 0 });
  return { hub, recording, worker };
}

/** The job's progress reports (percent and message), in order. */
export function progressReports(records: ActorRecord[]): { progress: number; message: string }[] {
  return records
    .filter((record) => record.state === 'running' && context(record).progressMessage !== null)
    .map((record) => ({ progress: context(record).progress, message: context(record).progressMessage }));
}

/** Resolves once the job reported progress with a message matching `pattern`. */
export function reported(recording: HubRecording, jobId: string, pattern: RegExp): Promise<ActorRecord> {
  return recording.waitFor(jobId, (record) => pattern.test(context(record).progressMessage ?? ''));
}
