/**
 * The ollama connector against a fake Ollama server (test/helpers/ollama-service.ts): generate
 * and chat streamed as NDJSON, embeddings, installed models as capabilities, and failures.
 */
import { describe, expect, it } from 'vitest';
import { ollamaConnector, type OllamaConnectorOptions } from 'statehub/worker';
import { statehub } from '../helpers/cli.js';
import { api, submit, testHub, testRecording } from '../helpers/hub.js';
import { startOllamaService, type OllamaService } from '../helpers/ollama-service.js';
import { bootingPort } from '../helpers/fake-server.js';
import { SERVICE_TEST_TIMINGS, cancelMidStream, connectorHub, context, expectStates, progressMessages, progressWhilePaused, recordIn, resultOf } from '../helpers/service-connector.js';

const CONNECTOR = 'ollama-1';

/** A hub whose worker runs one ollama connector on the server at `url`, restarting quickly after a fault. */
async function setup(url: string, options: OllamaConnectorOptions = {}) {
  return connectorHub(ollamaConnector({ id: CONNECTOR, url, healthIntervalMs: null, restartDelayMs: 50, ...options }));
}

async function ready(options: OllamaConnectorOptions = {}) {
  const service = await startOllamaService();
  const { hub, recording } = await setup(service.origin, options);
  await recording.waitFor(CONNECTOR, 'idle');
  return { service, hub, recording };
}

const posts = (service: OllamaService, path: string) => service.requests.filter((request) => request.method === 'POST' && request.path === path);

describe('the ollama connector: generate, chat, embed', () => {
  it('streams a generation, reporting tokens against options.num_predict, and completes with the text and statistics', async () => {
    const { service, hub, recording } = await ready();
    const paused = service.pause(2);
    const body = { model: 'llama3.2', prompt: 'Why is the sky blue?', options: { num_predict: 4, temperature: 0 } };

    const job = await submit(hub, { type: 'ollama', payload: { operation: 'generate', body } });
    expect(await progressWhilePaused(recording, job.id, paused, '2 of 4 tokens')).toBe(50);

    expect(await resultOf(recording, job.id)).toEqual({
      model: 'llama3.2',
      text: 'The sky is blue',
      doneReason: 'length',
      stats: { total_duration: 1_200_000_000, load_duration: 800_000_000, prompt_eval_count: 26, prompt_eval_duration: 130_000_000, eval_count: 4, eval_duration: 250_000_000 },
    });
    expect(posts(service, '/api/generate')[0]!.body).toEqual({ ...body, stream: true });
    recording.expect(job.id, 'pending > assigned > running > completed');
    await expectStates(recording, CONNECTOR, 'starting > idle > active > idle');
  });

  it('streams a chat without a token limit, saying how many tokens came', async () => {
    const { service, hub, recording } = await ready();
    const paused = service.pause(3);
    const job = await submit(hub, { type: 'ollama', payload: { operation: 'chat', body: { model: 'llama3.2', messages: [{ role: 'user', content: 'Why is the sky blue?' }] } } });
    expect(await progressWhilePaused(recording, job.id, paused, '3 tokens')).toBe(0);

    const done = await recording.waitFor(job.id, 'completed');
    expect(context(done).result).toMatchObject({ model: 'llama3.2', text: 'The sky is blue.', doneReason: 'stop', stats: { eval_count: 5 } });
    expect(posts(service, '/api/chat')[0]!.body.stream).toBe(true);
  });

  it('embeds, completing with the API\'s answer', async () => {
    const { service, hub, recording } = await ready();
    const body = { model: 'nomic-embed-text', input: ['Why is the sky blue?', 'Why is the grass green?'] };
    const job = await submit(hub, { type: 'ollama', payload: { operation: 'embed', body } });
    expect(await resultOf(recording, job.id)).toMatchObject({ model: 'nomic-embed-text', embeddings: [[0.01, -0.02, 0.05], [0.02, -0.02, 0.05]] });
    expect(posts(service, '/api/embed')[0]!.body).toEqual(body);
  });
});

describe('the ollama connector: models', () => {
  it('reports the installed models as capabilities (bare names for :latest), so a job can require one', async () => {
    const service = await startOllamaService();
    const { hub, recording } = await setup(service.origin, { healthIntervalMs: 50 });
    const idle = await recording.waitFor(CONNECTOR, 'idle');
    expect(context(idle)).toMatchObject({ latencyMs: expect.any(Number), capabilities: { models: ['llama3.2:latest', 'llama3.2', 'qwen2.5:7b', 'nomic-embed-text:latest', 'nomic-embed-text'] } });
    expect(service.requests.map((request) => `${request.method} ${request.path}`).slice(0, 2)).toEqual(['GET /api/version', 'GET /api/tags']);

    // A job for a model nobody has waits; once it is pulled, the next health check lets it run.
    const job = await submit(hub, { type: 'ollama', requirements: { models: ['mistral'] }, payload: { operation: 'generate', body: { model: 'mistral', prompt: 'hi' } } });
    const served = await submit(hub, { type: 'ollama', requirements: { models: ['qwen2.5:7b'] }, payload: { operation: 'generate', body: { model: 'qwen2.5:7b', prompt: 'hi' } } });
    await recording.waitFor(served.id, 'completed');
    expect(recording.states(job.id)).toEqual(['pending']);
    service.models = [...service.models, 'mistral:latest'];
    await recording.waitFor(job.id, 'completed');
    recording.expect(job.id, 'pending > assigned > running > completed');
  });

  it('fails a job for a model the server does not have at once (404, bad_input) and stays idle', async () => {
    const { hub, recording } = await ready();
    const job = await submit(hub, { type: 'ollama', maxAttempts: 3, payload: { operation: 'generate', body: { model: 'mistral', prompt: 'hi' } } });
    const failed = await recording.waitFor(job.id, 'failed');
    expect(context(failed)).toMatchObject({ attempts: 1, error: { code: 'bad_input', message: expect.stringMatching(/^POST http:\/\/127\.0\.0\.1:\d+\/api\/generate answered 404: model 'mistral' not found$/) } });
    await expectStates(recording, CONNECTOR, 'starting > idle > active > idle');
  });
});

describe('the ollama connector: failures and cancel', () => {
  it('fails the attempt on an error line mid-stream; the job is retried and the connector stays idle', async () => {
    const { service, hub, recording } = await ready();
    service.streamError = { afterTokens: 2, message: 'an error was encountered while running the model' };
    const job = await submit(hub, { type: 'ollama', maxAttempts: 2, backoffMs: 10, payload: { operation: 'generate', body: { model: 'llama3.2', prompt: 'hi' } } });
    const retrying = await recording.waitFor(job.id, 'retrying');
    expect(context(retrying).error.message).toBe('POST /api/generate failed while streaming: an error was encountered while running the model');
    service.streamError = undefined;

    expect((await resultOf(recording, job.id)).text).toBe('The sky is blue.');
    recording.expect(job.id, 'pending > assigned > running > retrying > pending > assigned > running > completed');
    await expectStates(recording, CONNECTOR, 'starting > idle > active > idle > active > idle');
  });

  it('survives a server that dies mid-stream: the connector waits in starting until it is back, and the job completes', async () => {
    const { service, hub, recording } = await ready({ timeouts: { startMs: 20_000 } });
    const paused = service.pause(3);
    const job = await submit(hub, { type: 'ollama', backoffMs: 10, payload: { operation: 'chat', body: { model: 'llama3.2', messages: [{ role: 'user', content: 'hi' }] } } });
    await paused.reached;
    await service.close();

    const retrying = await recording.waitFor(job.id, 'retrying');
    expect(context(retrying).error.message).toMatch(/^POST .*\/api\/chat broke off mid-answer/);
    await recording.until(() => recording.states(CONNECTOR).join(' > ') === 'starting > idle > active > error > starting', 'the connector to wait in starting');
    expect(context(recordIn(recording, CONNECTOR, 'error')).error.message).toMatch(/broke off mid-answer/);
    await service.restart();

    expect(context(await recording.waitFor(job.id, 'completed'))).toMatchObject({ attempts: 2, result: { text: 'The sky is blue.' } });
    recording.expect(job.id, 'pending > assigned > running > retrying > pending > assigned > running > completed');
    await expectStates(recording, CONNECTOR, 'starting > idle > active > error > starting > idle > active > idle');
    paused.release();
  });

  it('aborts the stream when its job is cancelled', async () => {
    const { service, hub, recording } = await ready();
    const jobId = await cancelMidStream(service, hub, recording, { type: 'ollama', payload: { operation: 'generate', body: { model: 'llama3.2', prompt: 'a long story' } } }, 'POST /api/generate');
    recording.expect(jobId, 'pending > assigned > running > cancelled');
    await expectStates(recording, CONNECTOR, 'starting > idle > active > idle');
  });

  it('stays starting while the server does not answer yet, and is idle once it does; a model loading slowly keeps the job running', async () => {
    const booting = await bootingPort();
    const { hub, recording } = await setup(`http://127.0.0.1:${booting.port}`);
    await booting.tried(3);
    await booting.close();
    const service = await startOllamaService({ port: booting.port });
    await recording.waitFor(CONNECTOR, 'idle');
    expect(recording.states(CONNECTOR)).toEqual(['starting', 'idle']);

    const loading = service.pause('before-headers');
    const job = await submit(hub, { type: 'ollama', payload: { operation: 'generate', body: { model: 'llama3.2', prompt: 'hi' } } });
    await loading.reached;
    await recording.waitFor(job.id, 'running');
    loading.release();
    await recording.waitFor(job.id, 'completed');
    recording.expect(job.id, 'pending > assigned > running > completed');
    expect(progressMessages(recording, job.id).at(-1)).toMatch(/^\d tokens$/);
  });

  it('waits out a 429 for its Retry-After (a server behind a rate limit)', async () => {
    const { service, hub, recording } = await ready();
    service.failNext('POST /api/embed', { status: 429, headers: { 'retry-after': '1' }, body: { error: 'too many requests' } });
    const job = await submit(hub, { type: 'ollama', payload: { operation: 'embed', body: { model: 'nomic-embed-text', input: 'x' } } });
    expect(context(await recording.waitFor(job.id, 'completed'))).toMatchObject({ attempts: 1, result: { embeddings: [[0.01, -0.02, 0.05]] } });
    expect(progressMessages(recording, job.id)).toContain('rate limited, retrying in 1 s');
  });
});

describe('the ollama connector from the command line', () => {
  it('runs in a worker process given --ollama-url', async () => {
    const service = await startOllamaService();
    const hub = await testHub({ timings: SERVICE_TEST_TIMINGS });
    const recording = await testRecording(hub);
    statehub(['worker', '--hub', hub.url, '--connectors', 'ollama:1', '--ollama-url', service.origin, '--id', 'cli-worker']);
    await recording.waitFor('cli-worker/ollama-1', 'idle', { timeoutMs: 20_000 });
    const job = await submit(hub, { type: 'ollama', requirements: { models: ['llama3.2'] }, payload: { operation: 'generate', body: { model: 'llama3.2', prompt: 'hi' } } });
    expect((await resultOf(recording, job.id)).text).toBe('The sky is blue.');
    expect((await api(hub, 'GET', `/api/actors/${encodeURIComponent('cli-worker/ollama-1')}`)).body.snapshot.context.capabilities.models).toContain('llama3.2');
  });
});
