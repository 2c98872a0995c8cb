/**
 * A connector's health check may say what its service offers (models, VRAM): that is in its
 * record, and jobs are matched against it, over its worker's capabilities.
 */
import { describe, expect, it } from 'vitest';
import type { ActorRecord } from 'statehub';
import type { ConnectorImplementation } from 'statehub/worker';
import { submit, testHub, testRecording, testWorker } from '../helpers/hub.js';

const context = (record: ActorRecord) => record.snapshot.context as Record<string, any>;

/** A model server whose installed models can change; its health check reports them. */
function modelServer(id: string, models: string[]): ConnectorImplementation & { models: string[] } {
  const server = {
    id,
    type: 'llm',
    models,
    healthIntervalMs: 20,
    async checkHealth() {
      return { latencyMs: 1, capabilities: { models: [...server.models] } };
    },
    async run() {
      return { by: id };
    },
  };
  return server;
}

describe('capabilities a connector reports', () => {
  it('are in its record, and a job goes to the connector whose service has what it requires', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    const small = modelServer('w1/small', ['tiny']);
    const large = modelServer('w1/large', ['tiny', 'llama3']);
    await testWorker(hub, { id: 'w1', simulations: 0, capabilities: { gpu: 1 }, connectors: [small, large] });
    await recording.waitFor('w1/large', (record) => record.state === 'idle' && context(record).capabilities.models?.includes('llama3'));

    const jobs = await Promise.all(Array.from({ length: 4 }, () => submit(hub, { type: 'llm', requirements: { models: ['llama3'], gpu: 1 } })));
    for (const job of jobs) expect(context(await recording.waitFor(job.id, 'completed')).result).toEqual({ by: 'w1/large' });
    expect(context(recording.records('w1/small').at(-1)!).jobsDone).toBe(0);
  });

  it('change with the service: a job waits pending until a health check finds what it requires', async () => {
    const hub = await testHub();
    const recording = await testRecording(hub);
    const server = modelServer('w1/llm', ['tiny']);
    await testWorker(hub, { id: 'w1', simulations: 0, connectors: [server] });
    await recording.waitFor('w1/llm', 'idle');
    const job = await submit(hub, { type: 'llm', requirements: { models: ['mistral'] } });
    // Several health checks pass with the job still waiting: nothing offers mistral yet.
    const seq = recording.records('w1/llm').at(-1)!.seq;
    server.models = ['tiny', 'other'];
    await recording.waitFor('w1/llm', (record) => record.seq > seq && context(record).capabilities.models.includes('other'));
    expect(recording.states(job.id)).toEqual(['pending']);

    server.models = ['tiny', 'mistral'];
    await recording.waitFor(job.id, 'completed');
    recording.expect(job.id, 'pending > assigned > running > completed');
  });
});
