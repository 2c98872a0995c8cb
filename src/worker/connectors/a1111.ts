/**
 * The `a1111` connector: runs txt2img and img2img on an AUTOMATIC1111 stable-diffusion-webui
 * server (started with `--api`).
 *
 * Protocol facts it follows, from the webui's `modules/api/api.py` and `modules/api/models.py`
 * (github.com/AUTOMATIC1111/stable-diffusion-webui):
 * - `POST /sdapi/v1/txt2img` and `POST /sdapi/v1/img2img` take the generation's parameters
 *   (`prompt`, `steps`, `init_images`...) and answer, once done, `{ images: [<base64>],
 *   parameters, info: <JSON text> }`. The server runs one generation at a time (its queue lock).
 * - `GET /sdapi/v1/progress?skip_current_image=true` -> `{ progress: 0..1, eta_relative, state:
 *   { job_count, job_no, sampling_step, sampling_steps }, textinfo }`; `job_count` is 0 while
 *   nothing runs.
 * - `POST /sdapi/v1/interrupt` stops the running generation, whose request then answers with what
 *   it made so far.
 * - `GET /sdapi/v1/options` -> the settings, `sd_model_checkpoint` naming the loaded checkpoint.
 * - Errors: a body that fails validation answers 422 with FastAPI's `{ detail: [{ loc, msg }] }`;
 *   other failures answer `{ error, detail, body, errors }` with their status (404 "Sampler not
 *   found", 500 by default).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import type { HealthReport } from '../../../machines/connector.js';
import type { Json } from '../../../machines/json.js';
import { PermanentError, ServiceError, type ConnectorImplementation, type JobRun, type RunContext } from '../connector.js';
import { isRecord, serverMessage, serviceClient, serviceConnector, type ServiceClient, type ServiceConnectorOptions, type ServiceTimeouts } from './service-http.js';

export interface A1111ConnectorOptions extends ServiceConnectorOptions {
  /** The webui, e.g. http://127.0.0.1:7860. */
  url: string;
  /**
   * Defaults: requestMs 30 s (progress, interrupt; a generation has no limit of its own, the
   * job's timeout bounds it), healthMs 5 s, startMs 120 s. The type defaults to `a1111`.
   */
  timeouts?: ServiceTimeouts;
  /** How often progress is polled while a generation runs. Default 1 s. */
  progressIntervalMs?: number;
}

/** `{ operation, ...the API's own request body }`: the body is sent as it is. */
export const a1111PayloadSchema = z.looseObject({
  operation: z.enum(['txt2img', 'img2img']),
});

export type A1111Payload = z.input<typeof a1111PayloadSchema>;

/**
 * Its calls get no rate-limit budget (service-http.ts): the webui limits nobody (it queues), so a
 * 429 comes from something in front of it refusing more work for that GPU, which is a fault of
 * the service as this connector reaches it: the connector backs off and its health check says
 * when it is back.
 */
export function a1111Connector(options: A1111ConnectorOptions): ConnectorImplementation {
  const api = new A1111Api(options);
  return serviceConnector(options, { type: 'a1111' }, {
    probe: (signal) => api.options(signal),
    run: (job, context) => runGeneration(api, job, context),
  });
}

async function runGeneration(api: A1111Api, job: JobRun, { signal, progress }: RunContext): Promise<Json> {
  const { operation, ...body } = readPayload(job.payload);
  try {
    const answer = await whilePolling(api.generate(operation, body, signal), (stop) => api.followProgress(progress, stop), signal);
    progress(100);
    return answer;
  } catch (error) {
    // Cancelled, timed out or lease lost: the GPU must not go on with work nobody will take.
    if (signal.aborted) await api.interrupt();
    throw error;
  }
}

function readPayload(payload: Json): z.infer<typeof a1111PayloadSchema> {
  const parsed = a1111PayloadSchema.safeParse(payload);
  if (!parsed.success) throw new PermanentError(`invalid a1111 payload: ${z.prettifyError(parsed.error)}`, { code: 'bad_input' });
  return parsed.data;
}

/** `work`, with `poll` running beside it until it settles (and stopped before its outcome is told, so no report comes after). */
async function whilePolling<T>(work: Promise<T>, poll: (stop: AbortSignal) => Promise<void>, signal: AbortSignal): Promise<T> {
  const settled = new AbortController();
  const polling = poll(AbortSignal.any([signal, settled.signal]));
  try {
    return await work;
  } finally {
    settled.abort();
    await polling;
  }
}

/** The webui's sdapi endpoints, through a client with this connector's headers and timeouts. */
class A1111Api {
  private readonly client: ServiceClient;
  private readonly progressIntervalMs: number;

  constructor(options: A1111ConnectorOptions) {
    this.client = serviceClient(options, { describe: describeError });
    this.progressIntervalMs = options.progressIntervalMs ?? 1_000;
  }

  /** The health probe: `/sdapi/v1/options`, the loaded checkpoint as a capability. */
  async options(signal: AbortSignal): Promise<HealthReport> {
    const { json: options, latencyMs } = await this.client.probe('/sdapi/v1/options', signal);
    if (!isRecord(options)) throw new ServiceError(`${this.client.url('/sdapi/v1/options')} is not the webui's: it answered no settings`);
    const model = options.sd_model_checkpoint;
    return { latencyMs, capabilities: { a1111: typeof model === 'string' ? { model } : {} } };
  }

  /** Runs the generation; resolves with its images (base64) and its `info`, parsed. */
  async generate(operation: A1111Payload['operation'], body: Record<string, unknown>, signal: AbortSignal): Promise<Json> {
    const answer = await this.client.json(`/sdapi/v1/${operation}`, { json: body, signal });
    if (!isRecord(answer) || !Array.isArray(answer.images)) throw new ServiceError(`${this.client.url(`/sdapi/v1/${operation}`)} answered without images`);
    return { images: answer.images.filter((image): image is string => typeof image === 'string'), info: parseInfo(answer.info) };
  }

  /**
   * Polls progress until `stop` fires, reporting it while a generation runs. A poll that fails is
   * skipped: the generation's own answer says whether the service is broken.
   */
  async followProgress(report: RunContext['progress'], stop: AbortSignal): Promise<void> {
    while (!stop.aborted) {
      await sleep(this.progressIntervalMs, undefined, { signal: stop }).catch(() => undefined);
      if (stop.aborted) return;
      const answer = await this.client.json('/sdapi/v1/progress?skip_current_image=true', { signal: stop, timeoutMs: this.client.timeouts.requestMs }).catch(() => undefined);
      // A report after the generation ended would move the bar back from 100.
      if (!stop.aborted && isRecord(answer)) reportProgress(answer, report);
    }
  }

  /** Best effort: a server that does not answer runs nothing we could stop. */
  async interrupt(): Promise<void> {
    await this.client.json('/sdapi/v1/interrupt', { method: 'POST', timeoutMs: this.client.timeouts.requestMs }).catch(() => undefined);
  }
}

/** `/progress` as the job's 0-100 (held under 100 until the images are in) and e.g. "step 12/20" or "image 2/4, step 12/20". */
function reportProgress(answer: Record<string, unknown>, report: RunContext['progress']): void {
  const state = isRecord(answer.state) ? answer.state : {};
  const jobs = Number(state.job_count);
  // Nothing runs yet (the server is still busy with an earlier request, or loading).
  if (!(jobs > 0)) return;
  const step = Number(state.sampling_step);
  const steps = Number(state.sampling_steps);
  const parts = [jobs > 1 ? `image ${Number(state.job_no) + 1}/${jobs}` : '', steps > 0 ? `step ${step}/${steps}` : ''].filter(Boolean);
  const percent = Math.min(99, Math.max(0, Math.floor(Number(answer.progress) * 100) || 0));
  report(percent, parts.length > 0 ? parts.join(', ') : undefined);
}

/** `info` is the generation's parameters as JSON text (seeds, sampler...): parsed when it is JSON. */
function parseInfo(info: unknown): Json {
  if (typeof info !== 'string') return (info ?? null) as Json;
  try {
    return JSON.parse(info) as Json;
  } catch {
    return info;
  }
}

/** The webui's error bodies: FastAPI's validation list, or `{ error, detail, errors }`. */
function describeError(body: unknown): string | undefined {
  if (!isRecord(body)) return serverMessage(body);
  if (Array.isArray(body.detail)) {
    return body.detail
      .filter(isRecord)
      .map((item) => `${Array.isArray(item.loc) ? item.loc.join('.') : ''}: ${String(item.msg)}`)
      .join('; ');
  }
  const text = [body.detail, body.errors].find((part): part is string => typeof part === 'string' && part !== '');
  if (text === undefined) return serverMessage(body);
  // The exception's class says what kind of failure it is, except for the webui's own HTTP errors.
  return typeof body.error === 'string' && body.error !== 'HTTPException' ? `${body.error}: ${text}` : text;
}
