/**
 * A fake AUTOMATIC1111 stable-diffusion-webui API, as its `modules/api/api.py` and
 * `modules/api/models.py` describe it (github.com/AUTOMATIC1111/stable-diffusion-webui):
 * `POST /sdapi/v1/txt2img` and `/img2img` validate the body (a field of the wrong type: 422 with
 * FastAPI's `{ detail: [{ loc, msg, type }] }`; an unknown sampler or no init image: 404 with
 * `{ error, detail, body, errors }`), run one generation at a time (its queue lock) over
 * `n_iter` images of `steps` sampling steps, and answer `{ images, parameters, info }`;
 * `GET /sdapi/v1/progress` computes `progress` from the shared state as api.py does;
 * `POST /sdapi/v1/interrupt` ends the running generation, which answers with what it made;
 * `GET /sdapi/v1/options` answers the settings.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { startFakeServer, type FakeRequest, type FakeServer, type Reply } from './fake-server.js';

export interface GenerationState {
  job_count: number;
  job_no: number;
  sampling_step: number;
  sampling_steps: number;
  interrupted: boolean;
  skipped: boolean;
  job: string;
  job_timestamp: string;
}

export interface A1111Service extends FakeServer {
  samplers: string[];
  /** The loaded checkpoint (`sd_model_checkpoint`). */
  checkpoint: string;
  /** Wait per sampling step. Default 2 ms. */
  stepMs: number;
  /** What /sdapi/v1/options answers instead of the settings. */
  optionsFailure: { status: number; body: unknown } | undefined;
  /** The next `times` generations (default: all) answer this instead of running. */
  failWith: { status: number; body: unknown; times?: number } | undefined;
  /** Bodies of the generations it accepted. */
  readonly generations: { operation: string; body: Record<string, any> }[];
  /** The shared state /progress reads. */
  readonly state: GenerationState;
}

const IDLE: GenerationState = { job_count: 0, job_no: 0, sampling_step: 0, sampling_steps: 0, interrupted: false, skipped: false, job: '', job_timestamp: '0' };

export async function startA1111Service(options: { port?: number } = {}): Promise<A1111Service> {
  let lock: Promise<unknown> = Promise.resolve();
  /** Counts the server's lives: a generation running when it died answers nobody. */
  let life = 0;

  const generate = async (operation: string, request: FakeRequest, reply: Reply) => {
    const body = (request.body ?? {}) as Record<string, any>;
    const invalid = validate(body);
    if (invalid.length > 0) return reply.json(422, { detail: invalid });
    const sampler = body.sampler_name ?? body.sampler_index ?? 'Euler';
    if (!service.samplers.includes(sampler)) return reply.json(404, httpError(404, 'Sampler not found'));
    if (operation === 'img2img' && !Array.isArray(body.init_images)) return reply.json(404, httpError(404, 'Init image not found'));
    if (service.failWith) {
      const { status, body: answer, times } = service.failWith;
      if (times !== undefined) service.failWith = times > 1 ? { ...service.failWith, times: times - 1 } : undefined;
      return reply.json(status, answer);
    }
    service.generations.push({ operation, body });
    const run = lock.then(() => sample(body));
    lock = run.catch(() => undefined);
    const images = await run;
    if (images) reply.json(200, { images, parameters: body, info: JSON.stringify({ prompt: body.prompt ?? '', seed: 1234, all_seeds: images.map((_, i) => 1234 + i), sampler_name: sampler, sd_model_name: service.checkpoint }) });
  };

  /** The generation, holding the queue lock; its images, or nothing when the server died meanwhile. */
  const sample = async (body: Record<string, any>): Promise<string[] | undefined> => {
    const born = life;
    const count = Number(body.n_iter ?? 1);
    const steps = Number(body.steps ?? 20);
    const images: string[] = [];
    Object.assign(service.state, { ...IDLE, job_count: count, sampling_steps: steps, job: 'scripts_txt2img', job_timestamp: String(Date.now()) });
    for (let image = 0; image < count && !service.state.interrupted; image++) {
      Object.assign(service.state, { job_no: image, sampling_step: 0 });
      for (let step = 1; step <= steps && !service.state.interrupted; step++) {
        await sleep(service.stepMs);
        if (life !== born) return undefined;
        service.state.sampling_step = step;
      }
      images.push(Buffer.from(`png ${image} of ${String(body.prompt ?? '')}`).toString('base64'));
    }
    Object.assign(service.state, IDLE);
    service.changed();
    return images;
  };

  const routes: Record<string, (request: FakeRequest, reply: Reply) => void | Promise<void>> = {
    'POST /sdapi/v1/txt2img': (request, reply) => generate('txt2img', request, reply),
    'POST /sdapi/v1/img2img': (request, reply) => generate('img2img', request, reply),
    'GET /sdapi/v1/progress': (_request, reply) => reply.json(200, progressOf(service.state)),
    'POST /sdapi/v1/interrupt': (_request, reply) => {
      service.state.interrupted = true;
      reply.json(200, {});
    },
    'GET /sdapi/v1/options': (_request, reply) =>
      service.optionsFailure
        ? reply.json(service.optionsFailure.status, service.optionsFailure.body)
        : reply.json(200, { sd_model_checkpoint: service.checkpoint, samples_format: 'png', outdir_txt2img_samples: 'outputs/txt2img-images', CLIP_stop_at_last_layers: 1 }),
  };

  const base = await startFakeServer(
    async (request, reply) => {
      const route = routes[`${request.method} ${request.path}`];
      if (!route) return reply.json(404, { detail: 'Not Found' });
      await route(request, reply);
    },
    {
      ...options,
      onClose: () => {
        life += 1;
        lock = Promise.resolve();
        Object.assign(service.state, IDLE);
      },
    },
  );

  const service: A1111Service = Object.assign(base, {
    samplers: ['Euler a', 'Euler', 'DPM++ 2M'],
    checkpoint: 'v1-5-pruned-emaonly.safetensors [6ce0161689]',
    stepMs: 2,
    optionsFailure: undefined,
    failWith: undefined,
    generations: [],
    state: { ...IDLE },
  });
  return service;
}

/** api.py's progressapi: 0 while nothing runs, else 0.01 + the images done + this image's share of its steps, at most 1. */
function progressOf(state: GenerationState) {
  if (state.job_count === 0) return { progress: 0, eta_relative: 0, state, current_image: null, textinfo: null };
  let progress = 0.01 + state.job_no / state.job_count;
  if (state.sampling_steps > 0) progress += (1 / state.job_count) * (state.sampling_step / state.sampling_steps);
  return { progress: Math.min(progress, 1), eta_relative: 1.5, state, current_image: null, textinfo: null };
}

/** The two pydantic checks tests need: `steps` an integer, `prompt` a string. */
function validate(body: Record<string, any>): { loc: string[]; msg: string; type: string }[] {
  const errors = [];
  if (body.steps !== undefined && !Number.isInteger(body.steps)) errors.push({ loc: ['body', 'steps'], msg: 'value is not a valid integer', type: 'type_error.integer' });
  if (body.prompt !== undefined && typeof body.prompt !== 'string') errors.push({ loc: ['body', 'prompt'], msg: 'str type expected', type: 'type_error.str' });
  return errors;
}

/** api.py's handle_exception for an HTTPException. */
function httpError(status: number, detail: string) {
  return { error: 'HTTPException', detail, body: '', errors: `${status}: ${detail}` };
}
