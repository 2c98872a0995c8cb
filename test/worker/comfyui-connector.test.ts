import { describe, expect, it } from 'vitest';
import { comfyuiConnector, type ComfyuiConnectorOptions } from 'statehub/worker';
import { connectorConfigSchema, connectorsFromSpec } from '../../src/worker/connector-spec.js';
import { startComfyService, txt2imgWorkflow } from '../helpers/comfyui-service.js';
import { bootingPort } from '../helpers/fake-server.js';
import { api, submit } from '../helpers/hub.js';
import { connectorHub, context, progressReports, reported } from '../helpers/service-connector.js';

const CONNECTOR = 'comfy-1';

function setup(url: string, options: Partial<ComfyuiConnectorOptions> = {}) {
  return connectorHub(comfyuiConnector({ url, id: CONNECTOR, healthIntervalMs: null, restartDelayMs: 50, ...options }));
}

/** A job running the workflow, `extra` merged into its payload. */
const workflowJob = (workflow = txt2imgWorkflow(), extra: Record<string, unknown> = {}, job: Record<string, unknown> = {}) => ({ type: 'comfyui', payload: { workflow, ...extra }, ...job });

/** A fake ComfyUI, a connector to it, and a job of `steps` sampler steps that has begun sampling. */
async function samplingJob(steps: number, options: Partial<ComfyuiConnectorOptions> = {}, job: Record<string, unknown> = {}) {
  const service = await startComfyService();
  service.stepMs = 10;
  const { hub, recording } = await setup(service.origin, options);
  await recording.waitFor(CONNECTOR, 'idle');
  const submitted = await submit(hub, workflowJob(txt2imgWorkflow({ steps }), {}, job));
  await reported(recording, submitted.id, /^KSampler \d+/);
  return { service, hub, recording, job: submitted, promptId: service.running()! };
}

describe('the comfyui connector', () => {
  it('queues the workflow with its client id, follows its progress across the nodes, and completes with the outputs from /history', async () => {
    const service = await startComfyService();
    const { hub, recording } = await setup(service.origin);
    await recording.waitFor(CONNECTOR, 'idle');

    const workflow = txt2imgWorkflow({ steps: 4 });
    const job = await submit(hub, workflowJob(workflow));
    const done = await recording.waitFor(job.id, 'completed');

    const [prompt] = service.prompts;
    expect(service.prompts).toHaveLength(1);
    expect(prompt!.workflow).toEqual(workflow);
    const post = service.requests.find((request) => request.method === 'POST' && request.path === '/prompt')!;
    expect(post.body).toMatchObject({ prompt: workflow, client_id: expect.any(String), prompt_id: prompt!.id });
    expect(context(done)).toMatchObject({
      progress: 100,
      error: null,
      result: { prompt_id: prompt!.id, outputs: { '9': { images: [{ filename: 'statehub_00001_.png', subfolder: '', type: 'output' }] } } },
    });

    // Seven nodes, each a seventh of the bar; KSampler's steps fill its share; titles name the node.
    const reports = progressReports(recording.records(job.id));
    expect(reports).toEqual(
      expect.arrayContaining([
        { progress: 14, message: 'Positive prompt' },
        { progress: 57, message: 'KSampler' },
        { progress: 60, message: 'KSampler 1/4' },
        { progress: 71, message: 'KSampler 4/4' },
        { progress: 85, message: 'SaveImage' },
      ]),
    );
    const percents = reports.map((report) => report.progress);
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    expect(Math.max(...percents)).toBeLessThan(100);

    recording.expect(job.id, 'pending > assigned > running > completed');
    recording.expect(CONNECTOR, 'starting > idle > active > idle');
  });

  it('reports the devices and VRAM of /system_stats as its capabilities, which job requirements are matched against', async () => {
    const service = await startComfyService();
    const { hub, recording } = await setup(service.origin);
    const idle = await recording.waitFor(CONNECTOR, 'idle');
    expect(context(idle)).toMatchObject({
      latencyMs: expect.any(Number),
      capabilities: {
        comfyui: { version: '0.3.60', devices: [{ name: 'cuda:0 NVIDIA GeForce RTX 4090 : cudaMallocAsync', type: 'cuda', vramTotal: 25_386_352_640, vramFree: 23_000_000_000 }] },
        vram: 24_210,
      },
    });

    const fits = await submit(hub, workflowJob(undefined, {}, { requirements: { vram: 16_000 } }));
    const tooBig = await submit(hub, workflowJob(undefined, {}, { requirements: { vram: 48_000 } }));
    await recording.waitFor(fits.id, 'completed');
    expect(recording.states(tooBig.id)).toEqual(['pending']);
  });

  it('counts nodes ComfyUI has cached as done', async () => {
    const service = await startComfyService();
    service.cachedNodes = ['4', '5', '6', '7'];
    const { hub, recording } = await setup(service.origin);
    await recording.waitFor(CONNECTOR, 'idle');
    const job = await submit(hub, workflowJob());
    await recording.waitFor(job.id, 'completed');
    const reports = progressReports(recording.records(job.id));
    expect(reports[0]).toEqual({ progress: 57, message: 'KSampler' });
    expect(reports.map((report) => report.message)).not.toContain('Positive prompt');
  });

  it('puts the output files’ bytes in the result when the payload asks, up to its download limit', async () => {
    const service = await startComfyService();
    service.imageBytes = 3_000;
    const { hub, recording } = await setup(service.origin, { maxDownloadBytes: 4_000 });
    await recording.waitFor(CONNECTOR, 'idle');

    const job = await submit(hub, workflowJob(undefined, { download: true }));
    const [image] = context(await recording.waitFor(job.id, 'completed')).result.outputs['9'].images;
    expect(image).toMatchObject({ filename: 'statehub_00001_.png', type: 'output', bytes: 3_000 });
    expect(Buffer.from(image.data, 'base64')).toEqual(service.files.get('statehub_00001_.png'));
    const view = service.requests.find((request) => request.path === '/view')!;
    expect(Object.fromEntries(view.query)).toEqual({ filename: 'statehub_00001_.png', subfolder: '', type: 'output' });

    service.imageBytes = 5_000;
    const big = await submit(hub, workflowJob(undefined, { download: true }));
    const [large] = context(await recording.waitFor(big.id, 'completed')).result.outputs['9'].images;
    expect(large).toEqual({ filename: 'statehub_00002_.png', subfolder: '', type: 'output', omitted: 'over the 4000-byte download limit' });
  });

  it('fails a workflow ComfyUI refuses at once, as bad input with its message, and stays idle', async () => {
    const service = await startComfyService();
    const { hub, recording } = await setup(service.origin);
    await recording.waitFor(CONNECTOR, 'idle');

    const missing = await submit(hub, workflowJob(txt2imgWorkflow({ checkpoint: 'nope.safetensors' }), {}, { maxAttempts: 3 }));
    const failed = await recording.waitFor(missing.id, 'failed');
    expect(context(failed)).toMatchObject({ attempts: 1, error: { code: 'bad_input' } });
    expect(context(failed).error.message).toContain('answered 400: Prompt outputs failed validation; node 4 (CheckpointLoaderSimple): Value not in list: ckpt_name: \'nope.safetensors\' not in');
    recording.expect(missing.id, 'pending > assigned > running > failed');

    const unknown = await submit(hub, workflowJob({ '1': { class_type: 'Teleporter', inputs: {} } }));
    const refused = await recording.waitFor(unknown.id, 'failed');
    expect(context(refused).error).toMatchObject({ code: 'bad_input', message: expect.stringContaining('Cannot execute because node Teleporter does not exist.: Node ID \'#1\'') });

    // A payload that is no workflow never reaches the server.
    const posts = service.count('POST', '/prompt');
    for (const payload of [{}, { workflow: {} }, { workflow: txt2imgWorkflow(), downlaod: true }, { workflow: { '1': { inputs: {} } } }]) {
      const bad = await submit(hub, { type: 'comfyui', payload });
      const record = await recording.waitFor(bad.id, 'failed');
      expect(context(record).error).toMatchObject({ code: 'bad_input', message: expect.stringContaining('invalid comfyui payload') });
    }
    expect(service.count('POST', '/prompt')).toBe(posts);

    await recording.waitFor(CONNECTOR, 'idle');
    expect(recording.states(CONNECTOR)).not.toContain('error');
  });

  it('fails the attempt when a node raises (execution_error), and the retry completes', async () => {
    const service = await startComfyService();
    service.failAt = { node: '3', type: 'torch.OutOfMemoryError', message: 'CUDA out of memory. Tried to allocate 2.00 GiB', times: 1 };
    const { hub, recording } = await setup(service.origin);
    await recording.waitFor(CONNECTOR, 'idle');

    const job = await submit(hub, workflowJob(undefined, {}, { maxAttempts: 2, backoffMs: 5 }));
    const done = await recording.waitFor(job.id, 'completed');
    expect(context(done).attempts).toBe(2);
    const retrying = recording.records(job.id).find((record) => record.state === 'retrying')!;
    expect(context(retrying).error).toEqual({ code: 'execution_error', message: 'ComfyUI node 3 (KSampler) failed: torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB' });
    recording.expect(job.id, 'pending > assigned > running > retrying > pending > assigned > running > completed');
    recording.expect(CONNECTOR, 'starting > idle > active > idle > active > idle');
  });

  it('on cancel, interrupts its running prompt (and nobody else’s)', async () => {
    const { service, hub, recording, job, promptId } = await samplingJob(10_000);
    expect((await api(hub, 'POST', `/api/jobs/${job.id}/cancel`)).status).toBe(200);

    await service.until(() => service.history.has(promptId), 'the prompt to end');
    const interrupt = service.requests.find((request) => request.path === '/interrupt')!;
    expect(interrupt.body).toEqual({ prompt_id: promptId });
    expect(service.history.get(promptId)!.status.messages.map(([type]) => type)).toContain('execution_interrupted');
    expect(service.count('POST', '/queue')).toBe(0);
    await service.until(() => service.sockets() === 0, 'the connector to close its socket');

    await recording.waitFor(CONNECTOR, 'idle');
    recording.expect(job.id, 'pending > assigned > running > cancelled');
    recording.expect(CONNECTOR, 'starting > idle > active > idle');
  });

  it('on cancel of a prompt still queued behind another client’s, removes it from the queue without interrupting', async () => {
    const service = await startComfyService();
    service.stepMs = 20;
    const { hub, recording } = await setup(service.origin);
    await recording.waitFor(CONNECTOR, 'idle');
    // Someone else's long prompt runs first.
    const other = await fetch(`${service.origin}/prompt`, { method: 'POST', body: JSON.stringify({ prompt: txt2imgWorkflow({ steps: 10_000 }), client_id: 'someone-else' }) });
    const { prompt_id: otherId } = (await other.json()) as { prompt_id: string };

    const job = await submit(hub, workflowJob());
    await service.until(() => service.prompts.length === 2, 'the job to be queued');
    const queued = service.prompts[1]!.id;
    await api(hub, 'POST', `/api/jobs/${job.id}/cancel`);
    await service.until(() => service.count('POST', '/queue') === 1, 'the prompt to be removed');
    expect(service.requests.find((request) => request.method === 'POST' && request.path === '/queue')!.body).toEqual({ delete: [queued] });
    expect(service.count('POST', '/interrupt')).toBe(0);
    expect(service.running()).toBe(otherId);
    recording.expect(job.id, 'pending > assigned > running > cancelled');
  });

  it('reconnects a WebSocket that dropped mid-job and goes on following the prompt', async () => {
    const { service, recording, job } = await samplingJob(30);
    service.dropSockets();
    await recording.waitFor(job.id, 'completed');
    expect(service.socketsOpened()).toBe(2);
    recording.expect(job.id, 'pending > assigned > running > completed');
    recording.expect(CONNECTOR, 'starting > idle > active > idle');
  });

  it('recovers the outcome from /history when the prompt finished while its WebSocket was away', async () => {
    const { service, recording, job, promptId } = await samplingJob(20);
    service.refuseSockets = true;
    service.dropSockets();
    await service.until(() => service.history.has(promptId), 'the prompt to finish unseen');
    service.refuseSockets = false;

    const done = await recording.waitFor(job.id, 'completed');
    expect(context(done).result).toEqual({ prompt_id: promptId, outputs: service.history.get(promptId)!.outputs });
    recording.expect(job.id, 'pending > assigned > running > completed');
    recording.expect(CONNECTOR, 'starting > idle > active > idle');
  });

  it('fails the attempt as a service fault when the server dies mid-job, waits in starting until it is back, and the retry completes', async () => {
    const { service, recording, job } = await samplingJob(30, { timeouts: { reconnectMs: 200, startMs: 20_000 } }, { maxAttempts: 2, backoffMs: 5 });
    await service.close();

    const retrying = await recording.waitFor(job.id, 'retrying');
    expect(context(retrying).error.message).toMatch(/^lost ComfyUI's WebSocket mid-job and could not reconnect within 200 ms: cannot reach ws:\/\/127\.0\.0\.1:\d+\/ws\?clientId=[\w-]+: ECONNREFUSED$/);
    // Restarting, it waits for the server rather than cycling through error.
    await recording.until(() => recording.states(CONNECTOR).join(' > ') === 'starting > idle > active > error > starting', 'the connector to wait in starting');
    await service.restart();

    await recording.waitFor(job.id, 'completed');
    recording.expect(job.id, 'pending > assigned > running > retrying > pending > assigned > running > completed');
    recording.expect(CONNECTOR, 'starting > idle > active > error > starting > idle > active > idle');
    const fault = recording.records(CONNECTOR).find((record) => record.state === 'error')!;
    expect(context(fault).error.message).toContain('lost ComfyUI');
  });

  it('fails the attempt as a service fault when the server restarted and forgot the prompt', async () => {
    const { service, recording, job, promptId } = await samplingJob(30, {}, { maxAttempts: 2, backoffMs: 5 });
    await service.close();
    await service.restart();

    const retrying = await recording.waitFor(job.id, 'retrying');
    expect(context(retrying).error.message).toBe(`ComfyUI no longer knows prompt ${promptId}: it restarted or dropped it mid-job`);
    await recording.waitFor(job.id, 'completed');
    recording.expect(CONNECTOR, 'starting > idle > active > error > starting > idle > active > idle');
  });

  it('uses the prompt id an older server chooses', async () => {
    const service = await startComfyService();
    service.choosesPromptIds = true;
    const { hub, recording } = await setup(service.origin);
    await recording.waitFor(CONNECTOR, 'idle');
    const job = await submit(hub, workflowJob());
    const done = await recording.waitFor(job.id, 'completed');
    const sent = service.requests.find((request) => request.path === '/prompt')!.body.prompt_id;
    expect(context(done).result.prompt_id).toBe(service.prompts[0]!.id);
    expect(context(done).result.prompt_id).not.toBe(sent);
  });

  it('stays starting while the server does not answer yet, and is idle once it does', async () => {
    const booting = await bootingPort();
    const { recording } = await setup(`http://127.0.0.1:${booting.port}`, { timeouts: { startMs: 20_000 } });
    await booting.tried(3);
    await booting.close();
    await startComfyService({ port: booting.port });

    const idle = await recording.waitFor(CONNECTOR, 'idle');
    expect(recording.states(CONNECTOR)).toEqual(['starting', 'idle']);
    expect(context(idle).capabilities.vram).toBe(24_210);
  });

  it('goes to error with the server’s message when /system_stats fails, and is idle once it answers', async () => {
    const service = await startComfyService();
    service.statsFailure = { status: 500, body: { error: 'CUDA driver initialization failed' } };
    const { recording } = await setup(service.origin);

    const fault = await recording.waitFor(CONNECTOR, 'error');
    expect(context(fault).error.message).toBe(`GET ${service.origin}/system_stats answered 500: CUDA driver initialization failed`);
    recording.expect(CONNECTOR, 'starting > error', { prefix: true });
    service.statsFailure = undefined;
    await recording.waitFor(CONNECTOR, 'idle');
    expect(recording.states(CONNECTOR).slice(-2)).toEqual(['starting', 'idle']);
  });

  it('goes to error when the server has not come up within its start timeout', async () => {
    const service = await startComfyService();
    await service.close();
    const { recording } = await setup(service.origin, { timeouts: { startMs: 300 } });
    const fault = await recording.waitFor(CONNECTOR, 'error');
    expect(context(fault).error).toEqual({ code: 'ECONNREFUSED', message: `cannot reach ${service.origin}/system_stats: ECONNREFUSED (waited 300 ms for it to start)` });
    recording.expect(CONNECTOR, 'starting > error', { prefix: true });
  });

  it('is a built-in type of the command line, which asks for --comfyui-url or takes its settings from the connector config', async () => {
    expect(() => connectorsFromSpec('comfyui:1')).toThrow('comfyui connectors need --comfyui-url (the ComfyUI server, e.g. http://127.0.0.1:8188)');
    expect(connectorsFromSpec('comfyui:2', { comfyuiUrl: 'http://127.0.0.1:8188' }).map((connector) => connector.type)).toEqual(['comfyui', 'comfyui']);
    expect(connectorConfigSchema.safeParse({ comfyui: { url: 'http://gpu:8188', maxDownloadBytes: -1 } }).success).toBe(false);
    expect(connectorConfigSchema.safeParse({ comfyui: { url: 'http://gpu:8188', timeouts: { reconnectMs: 1_000, retries: 3 } } }).success).toBe(false);

    const service = await startComfyService();
    const config = connectorConfigSchema.parse({ comfyui: { url: service.origin, headers: { 'x-api-key': 'secret' }, healthIntervalMs: null } });
    const [connector] = connectorsFromSpec('comfyui:1', { config });
    const { recording } = await connectorHub({ ...connector!, id: CONNECTOR });
    await recording.waitFor(CONNECTOR, 'idle');
    expect(service.requests.find((request) => request.path === '/system_stats')!.headers['x-api-key']).toBe('secret');
  });
});
