/**
 * The openai connector against a fake OpenAI-compatible API (test/helpers/openai-service.ts):
 * chat streamed over SSE, images, background responses, and every way the service can fail.
 */
import { describe, expect, it } from 'vitest';
import { openaiConnector, type OpenAIConnectorOptions } from 'statehub/worker';
import { submit } from '../helpers/hub.js';
import { startOpenAIService, type OpenAIService } from '../helpers/openai-service.js';
import { cancelJob, cancelMidStream, connectorHub, context, expectStates, progressMessages, progressWhilePaused, recordIn, resultOf } from '../helpers/service-connector.js';
import { statehub } from '../helpers/cli.js';

const CONNECTOR = 'openai-1';
const CHAT = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello' }] };
/** What every chat result of the fake service starts with. */
const COMPLETION = { id: 'chatcmpl-1', model: 'gpt-4o-mini' };

/** A hub whose worker runs one openai connector on `service`, restarting quickly after a fault. */
async function setup(service: OpenAIService, options: OpenAIConnectorOptions = {}) {
  const connector = openaiConnector({ id: CONNECTOR, url: service.url, healthIntervalMs: null, restartDelayMs: 50, pollIntervalMs: 10, ...options });
  const { hub, recording } = await connectorHub(connector);
  return { hub, recording };
}

async function ready(options: OpenAIConnectorOptions = {}) {
  const service = await startOpenAIService();
  const { hub, recording } = await setup(service, options);
  await recording.waitFor(CONNECTOR, 'idle');
  return { service, hub, recording };
}

const requestsTo = (service: OpenAIService, route: string) => service.requests.filter((request) => `${request.method} ${request.path}` === route);

describe('the openai connector: chat', () => {
  it('streams a chat completion, reporting tokens against max_tokens, and completes with the text and usage', async () => {
    const service = await startOpenAIService();
    service.key = 'sk-test';
    const { hub, recording } = await setup(service, { key: 'sk-test' });
    await recording.waitFor(CONNECTOR, 'idle');
    const paused = service.pause(2);

    const job = await submit(hub, { type: 'openai', payload: { operation: 'chat', body: { ...CHAT, max_tokens: 3 } } });
    expect(await progressWhilePaused(recording, job.id, paused, '2 of 3 tokens')).toBe(66);

    expect(await resultOf(recording, job.id)).toEqual({ ...COMPLETION, text: 'Hello, world', finishReason: 'length', usage: { prompt_tokens: 9, completion_tokens: 3, total_tokens: 12 } });
    recording.expect(job.id, 'pending > assigned > running > completed');
    await expectStates(recording, CONNECTOR, 'starting > idle > active > idle');

    const [post] = requestsTo(service, 'POST /v1/chat/completions');
    expect(post!.body).toEqual({ ...CHAT, max_tokens: 3, stream: true, stream_options: { include_usage: true } });
    expect(post!.headers.authorization).toBe('Bearer sk-test');
    expect(post!.headers['content-type']).toBe('application/json');
  });

  it('says how many tokens came when the request sets no limit, and puts streamed tool calls back together', async () => {
    const { service, hub, recording } = await ready();
    service.toolCall = { name: 'get_weather', argumentPieces: ['{"city":', '"Paris"', '}'] };
    const paused = service.pause(2);

    const job = await submit(hub, { type: 'openai', payload: { operation: 'chat', body: { ...CHAT, stream_options: { include_usage: false } } } });
    expect(await progressWhilePaused(recording, job.id, paused, '2 tokens')).toBe(0);

    expect(await resultOf(recording, job.id)).toEqual({
      ...COMPLETION,
      text: '',
      finishReason: 'tool_calls',
      toolCalls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }],
    });
    // The body's own stream_options are kept: no usage asked, none given.
    expect(requestsTo(service, 'POST /v1/chat/completions')[0]!.body.stream_options).toEqual({ include_usage: false });
  });

  it('fails the attempt on an error event in the stream; the job is retried and the connector stays idle', async () => {
    const { service, hub, recording } = await ready();
    service.streamError = { afterTokens: 1, message: 'The server had an error while processing your request.' };

    const job = await submit(hub, { type: 'openai', maxAttempts: 2, backoffMs: 10, payload: { operation: 'chat', body: CHAT } });
    const retrying = await recording.waitFor(job.id, 'retrying');
    expect(context(retrying).error.message).toMatch(/the chat stream ended with an error: The server had an error while processing your request\./);
    service.streamError = undefined;

    expect((await resultOf(recording, job.id)).text).toBe('Hello, world!');
    recording.expect(job.id, 'pending > assigned > running > retrying > pending > assigned > running > completed');
    await expectStates(recording, CONNECTOR, 'starting > idle > active > idle > active > idle');
  });
});

describe('the openai connector: images and background responses', () => {
  it('generates images with the body as given and completes with the API\'s answer', async () => {
    const { service, hub, recording } = await ready();
    const body = { model: 'gpt-image-1', prompt: 'a lighthouse at dusk', n: 2, size: '1024x1024' };
    const job = await submit(hub, { type: 'openai', payload: { operation: 'images', body } });
    expect(await resultOf(recording, job.id)).toEqual({
      created: 1_700_000_000,
      data: [
        { url: 'https://images.test/1.png', revised_prompt: 'a lighthouse at dusk' },
        { url: 'https://images.test/2.png', revised_prompt: 'a lighthouse at dusk' },
      ],
    });
    expect(requestsTo(service, 'POST /v1/images/generations')[0]!.body).toEqual(body);
    expect(progressMessages(recording, job.id)).toContain('generating');
  });

  it('creates a background response, polls it while the progress message says its status, and completes with its text', async () => {
    const { service, hub, recording } = await ready();
    service.responsePolls = Infinity;
    const body = { model: 'o4-mini', input: 'Write about otters in space.' };
    const job = await submit(hub, { type: 'openai', payload: { operation: 'responses', body } });
    await recording.waitFor(job.id, (record) => /^in progress, \d+ s$/.test(context(record).progressMessage ?? ''));
    service.responsePolls = 0;

    const done = await recording.waitFor(job.id, 'completed');
    expect(context(done).result).toMatchObject({ id: 'resp_1', model: 'o4-mini', status: 'completed', text: 'Otters in space.', usage: { total_tokens: 16 } });
    expect(context(done).result.output).toHaveLength(1);
    expect(requestsTo(service, 'POST /v1/responses')[0]!.body).toEqual({ ...body, background: true, stream: false });
    expect(requestsTo(service, 'GET /v1/responses/resp_1').length).toBeGreaterThanOrEqual(2);
    expect(progressMessages(recording, job.id).some((message) => /^in progress, \d+ s$/.test(message))).toBe(true);
    recording.expect(job.id, 'pending > assigned > running > completed');
  });

  it('completes an incomplete response with its details, and fails a failed one at once with the API\'s code', async () => {
    const { service, hub, recording } = await ready();
    service.responseOutcome = 'incomplete';
    const cut = await submit(hub, { type: 'openai', payload: { operation: 'responses', body: { model: 'o4-mini', input: 'x', max_output_tokens: 4 } } });
    expect(await resultOf(recording, cut.id)).toMatchObject({ status: 'incomplete', text: 'Otters in space.', incompleteDetails: { reason: 'max_output_tokens' } });

    service.responseOutcome = 'failed';
    const flagged = await submit(hub, { type: 'openai', maxAttempts: 3, payload: { operation: 'responses', body: { model: 'o4-mini', input: 'x' } } });
    const failed = await recording.waitFor(flagged.id, 'failed');
    expect(context(failed)).toMatchObject({ attempts: 1, error: { message: 'response resp_2 failed: The prompt was flagged. (invalid_prompt)', code: 'invalid_prompt' } });
    await expectStates(recording, CONNECTOR, 'starting > idle > active > idle > active > idle');
  });
});

describe('the openai connector: cancel', () => {
  it('aborts a streaming chat when its job is cancelled: the request is dropped and the connector is idle again', async () => {
    const { service, hub, recording } = await ready();
    const jobId = await cancelMidStream(service, hub, recording, { type: 'openai', payload: { operation: 'chat', body: CHAT } }, 'POST /v1/chat/completions');
    recording.expect(jobId, 'pending > assigned > running > cancelled');
    await expectStates(recording, CONNECTOR, 'starting > idle > active > idle');
  });

  it('cancels a background response on the service when its job is cancelled', async () => {
    const { service, hub, recording } = await ready();
    service.responsePolls = Infinity;
    const job = await submit(hub, { type: 'openai', payload: { operation: 'responses', body: { model: 'o4-mini', input: 'a long one' } } });
    await recording.waitFor(job.id, (record) => /^in progress/.test(context(record).progressMessage ?? ''));

    await cancelJob(hub, job.id);
    await service.until(() => requestsTo(service, 'POST /v1/responses/resp_1/cancel').length === 1, 'the response to be cancelled');
    await recording.waitFor(job.id, 'cancelled');
    recording.expect(job.id, 'pending > assigned > running > cancelled');
    await expectStates(recording, CONNECTOR, 'starting > idle > active > idle');
  });
});

describe('the openai connector: rate limits', () => {
  it('waits out a 429 for its Retry-After within the attempt, saying so, and completes without a retry', async () => {
    const { service, hub, recording } = await ready();
    service.failNext('POST /v1/chat/completions', {
      status: 429,
      headers: { 'retry-after': '1' },
      body: { error: { message: 'Rate limit reached for requests', type: 'requests', param: null, code: 'rate_limit_exceeded' } },
    });

    const job = await submit(hub, { type: 'openai', payload: { operation: 'chat', body: CHAT } });
    const done = await recording.waitFor(job.id, 'completed');
    expect(context(done)).toMatchObject({ attempts: 1, error: null, result: { text: 'Hello, world!' } });
    expect(progressMessages(recording, job.id)[0]).toBe('rate limited, retrying in 1 s');
    recording.expect(job.id, 'pending > assigned > running > completed');
    expect(requestsTo(service, 'POST /v1/chat/completions')).toHaveLength(2);
  });

  it('fails the attempt when the server asks for a longer wait than the attempt may take; the job retries after its own backoff', async () => {
    const { service, hub, recording } = await ready({ rateLimitWaitMs: 2_000 });
    service.failNext('POST /v1/chat/completions', { status: 429, headers: { 'retry-after': '30' }, body: { error: { message: 'Rate limit reached for requests', code: 'rate_limit_exceeded' } } });

    const job = await submit(hub, { type: 'openai', backoffMs: 10, payload: { operation: 'chat', body: CHAT } });
    await recording.waitFor(job.id, 'completed');
    recording.expect(job.id, 'pending > assigned > running > retrying > pending > assigned > running > completed');
    expect(context(recordIn(recording, job.id, 'retrying')).error).toEqual({
      code: 'rate_limited',
      message: expect.stringMatching(/^rate limited: POST .*\/v1\/chat\/completions answered 429: Rate limit reached for requests; the service asks to wait 30 s/),
    });
    // A busy service is not a broken one.
    await expectStates(recording, CONNECTOR, 'starting > idle > active > idle > active > idle');
  });

  it('fails the job at once on an exhausted quota, and sends the connector to error', async () => {
    const { service, hub, recording } = await ready();
    service.failNext('POST /v1/chat/completions', {
      status: 429,
      body: { error: { message: 'You exceeded your current quota, please check your plan and billing details.', type: 'insufficient_quota', code: 'insufficient_quota' } },
    });
    const job = await submit(hub, { type: 'openai', maxAttempts: 3, payload: { operation: 'chat', body: CHAT } });
    const failed = await recording.waitFor(job.id, 'failed');
    expect(context(failed)).toMatchObject({ attempts: 1, error: { code: 'quota', message: expect.stringMatching(/^POST .*\/v1\/chat\/completions answered 429: You exceeded your current quota/) } });
    await recording.until(() => recording.states(CONNECTOR).includes('error'), 'the connector to be in error');
    expect(context(recordIn(recording, CONNECTOR, 'error')).error.code).toBe('quota');
  });
});

describe('the openai connector: failures', () => {
  it('fails the job at once on a refused key (401), without retrying, and goes to error; its health check is refused too', async () => {
    const { service, hub, recording } = await ready({ key: 'sk-revoked' });
    service.key = 'sk-new';

    const job = await submit(hub, { type: 'openai', maxAttempts: 3, payload: { operation: 'chat', body: CHAT } });
    const failed = await recording.waitFor(job.id, 'failed');
    expect(context(failed)).toMatchObject({ attempts: 1, error: { code: 'auth', message: expect.stringMatching(/^POST http:\/\/127\.0\.0\.1:\d+\/v1\/chat\/completions answered 401: Incorrect API key provided: sk-wr\*\*\*ng\.$/) } });
    recording.expect(job.id, 'pending > assigned > running > failed');
    await recording.until(() => recording.states(CONNECTOR).filter((state) => state === 'error').length >= 2, 'the restart to fail too');
    recording.expect(CONNECTOR, 'starting > idle > active > error > starting > error', { prefix: true });
    const restart = recording.records(CONNECTOR).filter((record) => record.state === 'error')[1]!;
    expect(context(restart).error).toMatchObject({ code: 'auth', message: expect.stringMatching(/^GET .*\/v1\/models answered 401: /) });
    expect(JSON.stringify(recording.records(CONNECTOR))).not.toContain('sk-revoked');
  });

  it('fails the job at once on a 400 with the API\'s message (bad_input) and stays idle', async () => {
    const { hub, recording } = await ready();
    const job = await submit(hub, { type: 'openai', maxAttempts: 3, payload: { operation: 'chat', body: { model: 'gpt-4o-mini' } } });
    const failed = await recording.waitFor(job.id, 'failed');
    expect(context(failed)).toMatchObject({ attempts: 1, error: { code: 'bad_input', message: expect.stringMatching(/^POST .*\/v1\/chat\/completions answered 400: Missing required parameter: 'messages'\.$/) } });
    await expectStates(recording, CONNECTOR, 'starting > idle > active > idle');
  });

  it('fails a payload it cannot read at once (bad_input), without calling the service', async () => {
    const { service, hub, recording } = await ready();
    const job = await submit(hub, { type: 'openai', payload: { operation: 'speak', body: {} } });
    const failed = await recording.waitFor(job.id, 'failed');
    expect(context(failed)).toMatchObject({ attempts: 1, error: { code: 'bad_input', message: expect.stringContaining('operation: chat | images | responses') } });
    expect(service.requests.filter((request) => request.method === 'POST')).toHaveLength(0);
  });

  it('goes to error on a 5xx answer, restarts, and the retried job completes', async () => {
    const { service, hub, recording } = await ready();
    service.failNext('POST /v1/chat/completions', { status: 503, body: { error: { message: 'The engine is currently overloaded.', type: 'server_error', code: null } } });
    const job = await submit(hub, { type: 'openai', backoffMs: 10, payload: { operation: 'chat', body: CHAT } });
    await recording.waitFor(job.id, 'completed');
    expect(context(recordIn(recording, job.id, 'retrying')).error.message).toMatch(/^POST .*\/v1\/chat\/completions answered 503: The engine is currently overloaded\.$/);
    recording.expect(job.id, 'pending > assigned > running > retrying > pending > assigned > running > completed');
    await recording.waitFor(CONNECTOR, 'idle');
    await expectStates(recording, CONNECTOR, 'starting > idle > active > error > starting > idle > active > idle');
  });

  it('survives a server that dies mid-stream: the attempt fails, the connector waits in starting until the server is back, and the job completes', async () => {
    const { service, hub, recording } = await ready({ timeouts: { startMs: 20_000 } });
    const paused = service.pause(2);
    const job = await submit(hub, { type: 'openai', backoffMs: 10, payload: { operation: 'chat', body: CHAT } });
    await paused.reached;
    await service.close();

    const retrying = await recording.waitFor(job.id, 'retrying');
    expect(context(retrying).error.message).toMatch(/^POST .*\/v1\/chat\/completions broke off mid-answer/);
    // Restarting, it waits for the server rather than cycling through error.
    await recording.until(() => recording.states(CONNECTOR).join(' > ') === 'starting > idle > active > error > starting', 'the connector to wait in starting');
    await service.restart();

    const done = await recording.waitFor(job.id, 'completed');
    expect(context(done)).toMatchObject({ attempts: 2, result: { text: 'Hello, world!' } });
    recording.expect(job.id, 'pending > assigned > running > retrying > pending > assigned > running > completed');
    await expectStates(recording, CONNECTOR, 'starting > idle > active > error > starting > idle > active > idle');
    paused.release();
  });

  it('goes to error when the service has not come up within timeouts.startMs, with the reason, and is idle once it answers', async () => {
    const service = await startOpenAIService();
    await service.close();
    const { recording } = await setup(service, { timeouts: { startMs: 300 } });
    const fault = await recording.waitFor(CONNECTOR, 'error');
    expect(context(fault).error).toEqual({ code: 'ECONNREFUSED', message: expect.stringMatching(/^cannot reach http:\/\/127\.0\.0\.1:\d+\/v1\/models: ECONNREFUSED \(waited 300 ms for it to start\)$/) });
    await service.restart();
    const idle = await recording.waitFor(CONNECTOR, 'idle');
    expect(context(idle)).toMatchObject({ error: null, latencyMs: expect.any(Number) });
    recording.expect(CONNECTOR, 'starting > error > starting', { prefix: true });
  });

  it('waits for an answer that is slow to start, and gives up on a service silent for longer than timeouts.requestMs', async () => {
    const { service, hub, recording } = await ready({ timeouts: { requestMs: 2_000 } });
    const slow = service.pause('before-headers');
    const job = await submit(hub, { type: 'openai', payload: { operation: 'chat', body: CHAT } });
    await slow.reached;
    await recording.waitFor(job.id, 'running');
    slow.release();
    expect((await resultOf(recording, job.id)).text).toBe('Hello, world!');

    const silent = service.pause('before-headers');
    const stuck = await submit(hub, { type: 'openai', backoffMs: 10, payload: { operation: 'chat', body: CHAT } });
    await silent.reached;
    const retrying = await recording.waitFor(stuck.id, 'retrying');
    expect(context(retrying).error).toEqual({ code: 'ETIMEDOUT', message: expect.stringMatching(/\/v1\/chat\/completions: the service sent nothing for 2 s$/) });
    await recording.waitFor(stuck.id, 'completed');
    expect(recording.states(CONNECTOR)).toContain('error');
    silent.release();
  });
});

describe('the openai connector: health and command line', () => {
  it('reports its latency and the models GET /models lists as capabilities', async () => {
    const { service, recording } = await ready({ key: 'sk-test' });
    expect(context(recording.view.get(CONNECTOR)!)).toMatchObject({ latencyMs: expect.any(Number), error: null });
    const report = await openaiConnector({ url: service.url, key: 'sk-test' }).checkHealth!(AbortSignal.timeout(5_000));
    expect(report).toEqual({ latencyMs: expect.any(Number), capabilities: { models: ['gpt-4o-mini', 'gpt-image-1', 'o4-mini'] } });
    expect(requestsTo(service, 'GET /v1/models')[0]!.headers.authorization).toBe('Bearer sk-test');
  });

  it('the worker command needs a key for OpenAI\'s own API, and says so', async () => {
    const worker = statehub(['worker', '--hub', 'http://127.0.0.1:1', '--connectors', 'openai:1'], { OPENAI_API_KEY: '' });
    expect(await worker.exited()).toBe(1);
    expect(worker.output()).toMatch(/openai connectors need an API key: --openai-key or OPENAI_API_KEY/);
  });
});
