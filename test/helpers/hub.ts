/** Hubs, workers and HTTP calls for tests: each test gets its own hub on a free port, cleaned up after it. */
import { onTestFinished } from 'vitest';
import { startHub, type Hub, type HubOptions } from 'statehub';
import { createWorker, simulationConnector, type Worker, type WorkerOptions } from 'statehub/worker';
import { recordHub, type HubRecording } from 'statehub/testing';

/** Heartbeats fast enough that a lost worker shows within a test's patience. */
export const FAST_TIMINGS = { heartbeatMs: 50, staleAfterMs: 300, offlineAfterMs: 800 };

/**
 * A hub on a free port, closed when the test ends. It does not probe its store unless asked
 * (`probeStore: true`): tests read its log and snapshot as holding only what they did.
 */
export async function testHub(options: HubOptions = {}): Promise<Hub> {
  const hub = await startHub({ port: 0, logger: false, timings: FAST_TIMINGS, probeStore: false, ...options });
  onTestFinished(() => hub.close());
  return hub;
}

export async function testWorker(hub: Hub | string, options: Partial<WorkerOptions> & { simulations?: number } = {}): Promise<Worker> {
  const { simulations = 1, ...rest } = options;
  const worker = createWorker({
    hub: typeof hub === 'string' ? hub : hub.url,
    machineId: 'test-machine',
    connectors: Array.from({ length: simulations }, () => simulationConnector({ startupMs: 1 })),
    ...rest,
  });
  onTestFinished(() => worker.stop());
  await worker.ready();
  return worker;
}

export async function testRecording(hub: Hub, options: Parameters<typeof recordHub>[1] = {}): Promise<HubRecording> {
  const recording = await recordHub(hub.url, options);
  onTestFinished(() => recording.close());
  return recording;
}

export interface ApiAnswer<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

/** One HTTP call; `body` is sent as JSON unless it is a string (sent as is). */
export async function api<T = any>(
  hub: Hub | string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<ApiAnswer<T>> {
  const base = typeof hub === 'string' ? hub : hub.url;
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
  }
  const response = await fetch(base + path, init);
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, body: parsed as T, headers: response.headers };
}

export async function submit(hub: Hub | string, job: Record<string, unknown>): Promise<any> {
  const answer = await api(hub, 'POST', '/api/jobs', job);
  if (answer.status !== 201) throw new Error(`submit failed: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body;
}

export async function snapshot(hub: Hub | string, query = ''): Promise<{ offset: string; records: any[] }> {
  return (await api(hub, 'GET', `/api/snapshot${query}`)).body;
}

/** Sorted by id, so two views compare regardless of order. */
export function byId<T extends { id: string }>(records: Iterable<T>): T[] {
  return [...records].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
