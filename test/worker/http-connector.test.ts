import { describe, expect, it } from 'vitest';
import type { ActorRecord } from 'statehub';
import { httpConnector, type ConnectorImplementation, type HttpConnectorOptions } from 'statehub/worker';
import { startService, type TestService } from '../helpers/http-service.js';
import { submit, testHub, testRecording, testWorker } from '../helpers/hub.js';

const context = (record: ActorRecord) => record.snapshot.context as Record<string, any>;

const CONNECTOR = 'http-1';

/** An http connector that restarts quickly after a fault, so a test sees error > starting without waiting a second. */
function fastHttpConnector(options: HttpConnectorOptions): ConnectorImplementation {
  return { ...httpConnector({ id: CONNECTOR, healthIntervalMs: null, ...options }), restartDelayMs: 50 };
}

async function setup(service: TestService, options: Partial<HttpConnectorOptions> = {}) {
  const hub = await testHub();
  const recording = await testRecording(hub);
  const worker = await testWorker(hub, { id: 'http-worker', connectors: [fastHttpConnector({ url: service.jobsUrl, ...options })] });
  return { hub, recording, worker };
}

describe('the http connector', () => {
  it('completes a job with the service’s JSON, POSTing { id, type, payload, attempt }', async () => {
    const service = await startService();
    service.answerJob = (body) => ({ status: 200, body: { images: 2, for: body.id } });
    const { hub, recording } = await setup(service, { headers: { 'x-api-key': 'secret' } });
    await recording.waitFor(CONNECTOR, 'idle');

    const payload = { prompt: 'a lighthouse', size: [512, 512] };
    const job = await submit(hub, { type: 'http', payload });
    const done = await recording.waitFor(job.id, 'completed');
    expect(context(done)).toMatchObject({ result: { images: 2, for: job.id }, progress: 100, connectorId: CONNECTOR, error: null });

    const posts = service.requests.filter((request) => request.method === 'POST');
    expect(posts).toHaveLength(1);
    expect(posts[0]!.path).toBe('/jobs');
    expect(posts[0]!.body).toEqual({ id: job.id, type: 'http', payload, attempt: 1 });
    expect(posts[0]!.headers['content-type']).toBe('application/json');
    expect(posts[0]!.headers['x-api-key']).toBe('secret');
    recording.expect(CONNECTOR, 'starting > idle > active > idle');
  });

  it('records the latency of its health check on the connector record', async () => {
    const service = await startService();
    const { recording } = await setup(service);
    const idle = await recording.waitFor(CONNECTOR, 'idle');
    expect(context(idle).latencyMs).toEqual(expect.any(Number));
    expect(context(idle).latencyMs).toBeGreaterThanOrEqual(0);
    expect(context(idle)).toMatchObject({ type: 'http', error: null, failures: 0 });
    expect(service.requests.some((request) => request.method === 'GET' && request.path === '/health')).toBe(true);
  });

  it('uses healthUrl and the job type it is given', async () => {
    const service = await startService();
    const hub = await testHub();
    const recording = await testRecording(hub);
    await testWorker(hub, {
      id: 'http-worker',
      connectors: [fastHttpConnector({ url: service.jobsUrl, healthUrl: `${service.origin}/health?deep=1`, type: 'inference' })],
    });
    await recording.waitFor(CONNECTOR, 'idle');
    const job = await submit(hub, { type: 'inference', payload: 1 });
    const done = await recording.waitFor(job.id, 'completed');
    expect(context(done).result).toEqual({ echoed: { id: job.id, type: 'inference', payload: 1, attempt: 1 } });
  });

  it('fails the job at once on a 4xx answer (bad_input, with the service\'s message) but stays idle', async () => {
    const service = await startService();
    service.answerJob = () => ({ status: 422, body: { error: 'prompt too long' } });
    const { hub, recording } = await setup(service);
    await recording.waitFor(CONNECTOR, 'idle');

    const job = await submit(hub, { type: 'http', maxAttempts: 3, payload: { prompt: 'x'.repeat(10) } });
    const failed = await recording.waitFor(job.id, 'failed');
    expect(context(failed)).toMatchObject({ attempts: 1, error: { code: 'bad_input', message: `POST ${service.jobsUrl} answered 422: prompt too long` } });
    await recording.waitFor(CONNECTOR, 'idle');
    recording.expect(CONNECTOR, 'starting > idle > active > idle');
    expect(context(recording.view.get(CONNECTOR)!)).toMatchObject({ error: null, failures: 0 });

    // Still serving: the next job goes through.
    service.answerJob = () => ({ status: 200, body: { ok: true } });
    const next = await submit(hub, { type: 'http' });
    expect(context(await recording.waitFor(next.id, 'completed')).result).toEqual({ ok: true });
  });

  it('goes to error on a 5xx answer, restarts through starting, and the retried job completes', async () => {
    const service = await startService();
    let calls = 0;
    service.answerJob = (body) => (++calls === 1 ? { status: 503, body: { error: 'overloaded' } } : { status: 200, body: { attempt: body.attempt } });
    const { hub, recording } = await setup(service);
    await recording.waitFor(CONNECTOR, 'idle');

    const job = await submit(hub, { type: 'http', maxAttempts: 2, backoffMs: 5 });
    const done = await recording.waitFor(job.id, 'completed');
    expect(context(done)).toMatchObject({ attempts: 2, result: { attempt: 2 } });
    const retrying = recording.records(job.id).find((record) => record.state === 'retrying')!;
    expect(context(retrying).error.message).toContain('503');

    await recording.waitFor(CONNECTOR, 'idle');
    recording.expect(CONNECTOR, 'starting > idle > active > error > starting > idle > active > idle');
    const fault = recording.records(CONNECTOR).find((record) => record.state === 'error')!;
    expect(context(fault)).toMatchObject({ failures: 1, error: { message: expect.stringContaining('503') } });
    expect(context(recording.view.get(CONNECTOR)!)).toMatchObject({ failures: 0, error: null });
  });

  it('waits out a 429 for its Retry-After within the attempt, saying so; a longer wait than the attempt may take fails it as rate_limited', async () => {
    const service = await startService();
    const { hub, recording } = await setup(service, { rateLimitWaitMs: 5_000 });
    await recording.waitFor(CONNECTOR, 'idle');

    service.failNext('POST /jobs', { status: 429, headers: { 'retry-after': '1' }, body: { error: 'too many requests' } });
    const waited = await submit(hub, { type: 'http', payload: 1 });
    const done = await recording.waitFor(waited.id, 'completed');
    expect(context(done)).toMatchObject({ attempts: 1, result: { echoed: { payload: 1 } } });
    expect(recording.records(waited.id).map((record) => context(record).progressMessage)).toContain('rate limited, retrying in 1 s');

    service.failNext('POST /jobs', { status: 429, headers: { 'retry-after': '30' }, body: { error: 'too many requests' } });
    const retried = await submit(hub, { type: 'http', backoffMs: 10, payload: 2 });
    await recording.waitFor(retried.id, 'completed');
    recording.expect(retried.id, 'pending > assigned > running > retrying > pending > assigned > running > completed');
    const retrying = recording.records(retried.id).find((record) => record.state === 'retrying')!;
    expect(context(retrying).error).toEqual({ code: 'rate_limited', message: `rate limited: POST ${service.jobsUrl} answered 429: too many requests; the service asks to wait 30 s, longer than this attempt may` });
    // A busy service is not a broken one.
    expect(recording.states(CONNECTOR)).not.toContain('error');
  });

  it('goes to error when the service becomes unreachable, and keeps restarting until it is back', async () => {
    const service = await startService();
    const { hub, recording } = await setup(service);
    await recording.waitFor(CONNECTOR, 'idle');
    await service.close();

    const job = await submit(hub, { type: 'http', maxAttempts: 1 });
    const failed = await recording.waitFor(job.id, 'failed');
    expect(context(failed).error.message).toMatch(/cannot reach/);
    // It restarts, its health check finds nobody, and it is in error again.
    await recording.until(() => recording.states(CONNECTOR).filter((state) => state === 'error').length >= 2, 'two faults');
    recording.expect(CONNECTOR, ['starting', 'idle', 'active', 'error', 'starting', 'error'], { prefix: true });
    expect(context(recording.records(CONNECTOR).find((record) => record.state === 'error')!).error.message).toMatch(/cannot reach/);
  });

  it('is in error when its health check fails at start, and idle once the service is healthy', async () => {
    const service = await startService();
    service.healthStatus = 500;
    const { recording } = await setup(service);

    const fault = await recording.waitFor(CONNECTOR, 'error');
    expect(context(fault).error.message).toMatch(/^GET .*\/health answered 500/);
    recording.expect(CONNECTOR, 'starting > error', { prefix: true });
    expect(recording.states(CONNECTOR)).not.toContain('idle');

    service.healthStatus = 200;
    const idle = await recording.waitFor(CONNECTOR, 'idle');
    expect(context(idle)).toMatchObject({ error: null, failures: 0, latencyMs: expect.any(Number) });
    expect(recording.states(CONNECTOR).slice(-2)).toEqual(['starting', 'idle']);
  });

  it('re-checks its health while idle and goes to error when the service stops answering', async () => {
    const service = await startService();
    const { recording } = await setup(service, { healthIntervalMs: 30 });
    await recording.waitFor(CONNECTOR, 'idle');
    service.healthStatus = 503;
    const fault = await recording.waitFor(CONNECTOR, 'error');
    expect(context(fault).error.message).toContain('503');
    recording.expect(CONNECTOR, 'starting > idle > error', { prefix: true });
  });
});
