import { describe, expect, it } from 'vitest';
import { a1111Connector, type A1111ConnectorOptions } from 'statehub/worker';
import { connectorConfigSchema, connectorsFromSpec } from '../../src/worker/connector-spec.js';
import { startA1111Service } from '../helpers/a1111-service.js';
import { bootingPort } from '../helpers/fake-server.js';
import { api, submit } from '../helpers/hub.js';
import { connectorHub, context, expectStates, progressReports, recordIn, reported } from '../helpers/service-connector.js';

const CONNECTOR = 'a1111-1';

function setup(url: string, options: Partial<A1111ConnectorOptions> = {}) {
  return connectorHub(a1111Connector({ url, id: CONNECTOR, healthIntervalMs: null, restartDelayMs: 50, progressIntervalMs: 10, ...options }));
}

const txt2img = (body: Record<string, unknown> = {}, job: Record<string, unknown> = {}) => ({
  type: 'a1111',
  payload: { operation: 'txt2img', prompt: 'a lighthouse at dusk', steps: 20, sampler_name: 'Euler a', ...body },
  ...job,
});

/** A fake webui, a connector to it, and a txt2img job of `steps` steps that has begun sampling. */
async function samplingJob(steps: number, options: Partial<A1111ConnectorOptions> = {}, job: Record<string, unknown> = {}) {
  const service = await startA1111Service();
  service.stepMs = 10;
  const { hub, recording } = await setup(service.origin, options);
  await recording.waitFor(CONNECTOR, 'idle');
  const submitted = await submit(hub, txt2img({ steps }, job));
  await reported(recording, submitted.id, /^step \d+/);
  return { service, hub, recording, job: submitted };
}

describe('the a1111 connector', () => {
  it('POSTs the payload to /sdapi/v1/txt2img, reports progress polled from /sdapi/v1/progress, and completes with the images and info', async () => {
    const service = await startA1111Service();
    service.stepMs = 10;
    const { hub, recording } = await setup(service.origin, { headers: { authorization: 'Basic dXNlcjpwYXNz' } });
    await recording.waitFor(CONNECTOR, 'idle');

    const job = await submit(hub, txt2img({ n_iter: 2 }));
    const done = await recording.waitFor(job.id, 'completed');

    expect(service.generations).toEqual([{ operation: 'txt2img', body: { prompt: 'a lighthouse at dusk', steps: 20, sampler_name: 'Euler a', n_iter: 2 } }]);
    const post = service.requests.find((request) => request.path === '/sdapi/v1/txt2img')!;
    expect(post.headers).toMatchObject({ 'content-type': 'application/json', authorization: 'Basic dXNlcjpwYXNz' });
    expect(context(done)).toMatchObject({
      progress: 100,
      error: null,
      result: {
        images: [Buffer.from('png 0 of a lighthouse at dusk').toString('base64'), Buffer.from('png 1 of a lighthouse at dusk').toString('base64')],
        info: { prompt: 'a lighthouse at dusk', seed: 1234, all_seeds: [1234, 1235], sampler_name: 'Euler a' },
      },
    });

    const seen = progressReports(recording.records(job.id));
    expect(seen.length).toBeGreaterThan(0);
    for (const { progress, message } of seen) {
      expect(message).toMatch(/^image [12]\/2, step \d+\/20$/);
      expect(progress).toBeLessThan(100);
    }
    const percents = seen.map((report) => report.progress);
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    const polls = service.requests.filter((request) => request.path === '/sdapi/v1/progress');
    expect(polls.every((poll) => poll.query.get('skip_current_image') === 'true')).toBe(true);

    recording.expect(job.id, 'pending > assigned > running > completed');
    recording.expect(CONNECTOR, 'starting > idle > active > idle');
  });

  it('sends img2img to /sdapi/v1/img2img', async () => {
    const service = await startA1111Service();
    const { hub, recording } = await setup(service.origin);
    await recording.waitFor(CONNECTOR, 'idle');
    const job = await submit(hub, { type: 'a1111', payload: { operation: 'img2img', prompt: 'in winter', init_images: ['aGVsbG8='], denoising_strength: 0.6, steps: 4 } });
    const done = await recording.waitFor(job.id, 'completed');
    expect(service.generations).toEqual([{ operation: 'img2img', body: { prompt: 'in winter', init_images: ['aGVsbG8='], denoising_strength: 0.6, steps: 4 } }]);
    expect(context(done).result.images).toHaveLength(1);
  });

  it('fails a request the webui refuses (4xx) at once, as bad input with its message, and stays idle', async () => {
    const service = await startA1111Service();
    const { hub, recording } = await setup(service.origin);
    await recording.waitFor(CONNECTOR, 'idle');

    const invalid = await submit(hub, txt2img({ steps: 'many', prompt: 7 }, { maxAttempts: 3 }));
    const failed = await recording.waitFor(invalid.id, 'failed');
    expect(context(failed)).toMatchObject({
      attempts: 1,
      error: { code: 'bad_input', message: `POST ${service.origin}/sdapi/v1/txt2img answered 422: body.steps: value is not a valid integer; body.prompt: str type expected` },
    });
    recording.expect(invalid.id, 'pending > assigned > running > failed');

    const sampler = await submit(hub, txt2img({ sampler_name: 'Teleport' }));
    expect(context(await recording.waitFor(sampler.id, 'failed')).error).toEqual({ code: 'bad_input', message: `POST ${service.origin}/sdapi/v1/txt2img answered 404: Sampler not found` });
    const noImage = await submit(hub, { type: 'a1111', payload: { operation: 'img2img', prompt: 'x' } });
    expect(context(await recording.waitFor(noImage.id, 'failed')).error.message).toContain('answered 404: Init image not found');

    // A payload without a known operation never reaches the server.
    const posts = service.requests.length;
    for (const payload of [{ prompt: 'x' }, { operation: 'extras' }, null]) {
      const bad = await submit(hub, { type: 'a1111', payload });
      expect(context(await recording.waitFor(bad.id, 'failed')).error).toMatchObject({ code: 'bad_input', message: expect.stringContaining('invalid a1111 payload') });
    }
    expect(service.requests.slice(posts).filter((request) => request.method === 'POST')).toEqual([]);

    expect(service.generations).toEqual([]);
    await recording.waitFor(CONNECTOR, 'idle');
    expect(recording.states(CONNECTOR)).not.toContain('error');
  });

  it('fails the attempt as a service fault on a 5xx answer, restarts, and the retry completes', async () => {
    const service = await startA1111Service();
    service.failWith = { status: 500, body: { error: 'RuntimeError', detail: '', body: '', errors: 'CUDA out of memory. Tried to allocate 2.00 GiB' }, times: 1 };
    const { hub, recording } = await setup(service.origin);
    await recording.waitFor(CONNECTOR, 'idle');

    const job = await submit(hub, txt2img({ steps: 3 }, { maxAttempts: 2, backoffMs: 5 }));
    await recording.waitFor(job.id, 'completed');
    const retrying = recording.records(job.id).find((record) => record.state === 'retrying')!;
    expect(context(retrying).error).toEqual({ message: `POST ${service.origin}/sdapi/v1/txt2img answered 500: RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB` });
    recording.expect(job.id, 'pending > assigned > running > retrying > pending > assigned > running > completed');
    recording.expect(CONNECTOR, 'starting > idle > active > error > starting > idle > active > idle');
  });

  it('takes a 429 for a service fault, as the webui limits nobody (something in front of it turns work away): restarts, and the retry completes', async () => {
    const service = await startA1111Service();
    service.failWith = { status: 429, body: { detail: 'Too Many Requests' }, times: 1 };
    const { hub, recording } = await setup(service.origin);
    await recording.waitFor(CONNECTOR, 'idle');

    const job = await submit(hub, txt2img({ steps: 3 }, { maxAttempts: 2, backoffMs: 5 }));
    await recording.waitFor(job.id, 'completed');
    expect(context(recordIn(recording, job.id, 'retrying')).error).toEqual({ message: `POST ${service.origin}/sdapi/v1/txt2img answered 429: Too Many Requests` });
    await expectStates(recording, CONNECTOR, 'starting > idle > active > error > starting > idle > active > idle');
  });

  it('on cancel, interrupts the generation', async () => {
    const { service, hub, recording, job } = await samplingJob(10_000);
    expect((await api(hub, 'POST', `/api/jobs/${job.id}/cancel`)).status).toBe(200);

    await service.until(() => service.count('POST', '/sdapi/v1/interrupt') === 1, 'the interrupt');
    await service.until(() => service.state.job_count === 0, 'the generation to end');
    await recording.waitFor(CONNECTOR, 'idle');
    recording.expect(job.id, 'pending > assigned > running > cancelled');
    recording.expect(CONNECTOR, 'starting > idle > active > idle');
  });

  it('fails the attempt as a service fault when the server dies mid-generation, waits in starting until it is back, and the retry completes', async () => {
    const { service, recording, job } = await samplingJob(50, { timeouts: { startMs: 20_000 } }, { maxAttempts: 2, backoffMs: 5 });
    await service.close();

    const retrying = await recording.waitFor(job.id, 'retrying');
    // How the dropped request reads is up to Node's fetch (here: no answer from ...: other side closed).
    expect(context(retrying).error.message).toMatch(new RegExp(`^(no answer from|cannot reach) ${service.origin}/sdapi/v1/txt2img: `));
    await recording.until(() => recording.states(CONNECTOR).join(' > ') === 'starting > idle > active > error > starting', 'the connector to wait in starting');
    await service.restart();

    await recording.waitFor(job.id, 'completed');
    recording.expect(job.id, 'pending > assigned > running > retrying > pending > assigned > running > completed');
    recording.expect(CONNECTOR, 'starting > idle > active > error > starting > idle > active > idle');
  });

  it('stays starting while the server does not answer yet, and is idle with the loaded checkpoint once it does', async () => {
    const booting = await bootingPort();
    const { recording } = await setup(`http://127.0.0.1:${booting.port}`, { timeouts: { startMs: 20_000 } });
    await booting.tried(3);
    await booting.close();
    await startA1111Service({ port: booting.port });

    const idle = await recording.waitFor(CONNECTOR, 'idle');
    expect(recording.states(CONNECTOR)).toEqual(['starting', 'idle']);
    expect(context(idle)).toMatchObject({ latencyMs: expect.any(Number), capabilities: { a1111: { model: 'v1-5-pruned-emaonly.safetensors [6ce0161689]' } } });
  });

  it('goes to error with the server’s message when /sdapi/v1/options fails, and is idle once it answers', async () => {
    const service = await startA1111Service();
    service.optionsFailure = { status: 503, body: { detail: 'model is loading' } };
    const { recording } = await setup(service.origin);

    const fault = await recording.waitFor(CONNECTOR, 'error');
    expect(context(fault).error.message).toBe(`GET ${service.origin}/sdapi/v1/options answered 503: model is loading`);
    recording.expect(CONNECTOR, 'starting > error', { prefix: true });
    service.optionsFailure = undefined;
    await recording.waitFor(CONNECTOR, 'idle');
    expect(recording.states(CONNECTOR).slice(-2)).toEqual(['starting', 'idle']);
  });

  it('is a built-in type of the command line, which asks for --a1111-url or takes its settings from the connector config', async () => {
    expect(() => connectorsFromSpec('simulation:1,a1111:1')).toThrow(/a1111 connectors need --a1111-url/);
    expect(connectorsFromSpec('a1111:1', { a1111Url: 'http://127.0.0.1:7860' }).map((connector) => connector.type)).toEqual(['a1111']);

    const service = await startA1111Service();
    const config = connectorConfigSchema.parse({ a1111: { url: 'http://127.0.0.1:9', headers: { authorization: 'Basic dXNlcjpwYXNz' }, healthIntervalMs: null } });
    // The flag's URL wins over the file's.
    const [connector] = connectorsFromSpec('a1111:1', { config, a1111Url: service.origin });
    const { recording } = await connectorHub({ ...connector!, id: CONNECTOR });
    await recording.waitFor(CONNECTOR, 'idle');
    expect(service.requests.find((request) => request.path === '/sdapi/v1/options')!.headers.authorization).toBe('Basic dXNlcjpwYXNz');
  });
});
