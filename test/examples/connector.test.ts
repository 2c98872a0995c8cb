import { afterAll, beforeAll, expect, it } from 'vitest';
import { startHub, type Hub } from 'statehub';
import { createWorker, PermanentError, ServiceError, type ConnectorImplementation, type Worker } from 'statehub/worker';
import { recordHub, type HubRecording } from 'statehub/testing';

/**
 * A connector for a word-counting service. Its `run` reports progress with a few words, stops
 * when the job's signal fires (cancel, timeout, a lost lease), and says which failures are worth
 * another attempt: bad input is permanent, a broken service is a ServiceError (the connector
 * restarts), anything else fails this attempt only.
 */
function wordCounter(service: { up: boolean; models: string[] }): ConnectorImplementation {
  return {
    type: 'count-words',
    healthIntervalMs: 5_000, // re-check the service while idle
    async checkHealth() {
      if (!service.up) throw new ServiceError('word service is down');
      return { latencyMs: 1, capabilities: { models: service.models } }; // matched against job requirements
    },
    async run(job, { signal, progress }) {
      const text = (job.payload as { text?: unknown } | null)?.text;
      if (typeof text !== 'string') throw new PermanentError('payload.text must be a string', { code: 'bad_input' });
      if (!service.up) throw new ServiceError('word service is down');
      const words = text.split(/\s+/).filter(Boolean);
      for (let index = 0; index < words.length; index++) {
        signal.throwIfAborted(); // cancelled: stop working
        await new Promise((resolve) => setTimeout(resolve, 5));
        progress(((index + 1) / words.length) * 100, `word ${index + 1} of ${words.length}`);
      }
      return { words: words.length };
    },
  };
}

let hub: Hub;
let worker: Worker;
let recording: HubRecording;

beforeAll(async () => {
  hub = await startHub({ port: 0, logger: false });
  worker = createWorker({ hub: hub.url, connectors: [wordCounter({ up: true, models: ['en'] })] });
  await worker.ready();
  recording = await recordHub(hub.url);
});

afterAll(async () => {
  recording.close();
  await worker.stop();
  await hub.close();
});

async function submit(job: object): Promise<{ id: string }> {
  const response = await fetch(`${hub.url}/api/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(job) });
  return response.json();
}

it('counts the words, with progress, on a connector that has the model the job requires', async () => {
  const job = await submit({ type: 'count-words', requirements: { models: ['en'] }, payload: { text: 'one two three' } });
  const done = await recording.waitFor(job.id, 'completed');
  expect(done.snapshot.context.result).toEqual({ words: 3 });
  recording.expect(job.id, 'pending > assigned > running > completed');
});

it('fails bad input at once, without using the other attempts', async () => {
  const job = await submit({ type: 'count-words', maxAttempts: 3, payload: { words: 3 } });
  const failed = await recording.waitFor(job.id, 'failed');
  expect(failed.snapshot.context).toMatchObject({ attempts: 1, error: { code: 'bad_input', message: 'payload.text must be a string' } });
});
