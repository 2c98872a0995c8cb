/**
 * The `ollama` connector: runs jobs on an Ollama server, following its API reference
 * (https://github.com/ollama/ollama/blob/main/docs/api.md). The payload names the operation and
 * carries the API's own request body:
 *
 *   { "operation": "generate", "body": { "model": "llama3.2", "prompt": "Why is the sky blue?", "options": { "num_predict": 200 } } }
 *
 * - `generate`: POST /api/generate, `chat`: POST /api/chat, both streamed (the connector sets
 *   `stream: true`): newline-delimited JSON objects, each bringing a piece of the answer
 *   (`response`, or `message.content` for chat, and `thinking` for thinking models; chat's tool
 *   calls come whole in `message.tool_calls`), the last one with `done: true`, `done_reason` and
 *   the statistics (`eval_count`, durations in ns...). Progress: pieces received (a token each)
 *   against `options.num_predict` when the body gives it, else a message with the count.
 *   Result: `{ model, text, thinking?, toolCalls?, doneReason, stats }`.
 * - `embed`: POST /api/embed, one JSON answer; the result is the API's answer (`{ model,
 *   embeddings: [[...], ...], ... }`).
 *
 * An error after a stream began comes as a line of its own, `{ "error": "..." }`, the status
 * being already sent (https://docs.ollama.com/api/errors): the attempt fails and the job is
 * retried; so does a stream that ends without `done`. Other errors, rate limits (waited out
 * within each attempt: Ollama itself answers a full queue with 503, but a server shared behind
 * a gateway may be rate-limited by it), starting and timeouts: see service-http.ts (an unknown model is a 404, so
 * its job fails at once with `bad_input`). `timeouts.requestMs` bounds the silence of every
 * call, 5 min by default: a model may take that long to load.
 *
 * Health: GET /api/version, then GET /api/tags, whose models become the connector's capability
 * `models`, so a job can require one (`requirements: { models: ["llama3.2"] }`). Each model is
 * listed by its name (`llama3.2:latest`) and, for the `latest` tag, also without it
 * (`llama3.2`), since Ollama takes a name without a tag to mean `latest`. A model pulled later
 * shows at the next health check (`healthIntervalMs`, 30 s by default).
 */
import { z } from 'zod';
import type { Json } from '../../../machines/json.js';
import { ServiceError, type ConnectorImplementation } from '../connector.js';
import {
  GENERATION_TIMEOUTS,
  readOperation,
  serviceClient,
  serviceConnector,
  startAttempt,
  type Attempt,
  type RateLimitOptions,
  type ServiceClient,
  type ServiceConnectorOptions,
} from './service-http.js';
import { jsonLines, tokenLimit, tokenProgress } from './streams.js';

export const DEFAULT_OLLAMA_URL = 'http://127.0.0.1:11434';

export interface OllamaConnectorOptions extends ServiceConnectorOptions, RateLimitOptions {
  /** The server's address. Default http://127.0.0.1:11434 (Ollama's own default). */
  url?: string;
}

const OPERATIONS = ['generate', 'chat', 'embed'] as const;

export function ollamaConnector(options: OllamaConnectorOptions = {}): ConnectorImplementation {
  const client = serviceClient(options, { url: DEFAULT_OLLAMA_URL, timeouts: GENERATION_TIMEOUTS });
  return serviceConnector(options, { type: 'ollama', healthIntervalMs: 30_000 }, {
    async probe(signal) {
      const { latencyMs } = await client.probe('/api/version', signal);
      return { latencyMs, capabilities: { models: await installedModels(client, signal) } };
    },
    async run(job, context) {
      const { operation, body } = readOperation(job.payload, OPERATIONS);
      const attempt = startAttempt(client, job, context, options);
      if (operation === 'embed') return (await attempt.call('POST', '/api/embed', body)).json();
      return generate(attempt, `/api/${operation}`, body);
    },
  });
}

async function installedModels(client: ServiceClient, signal: AbortSignal): Promise<string[]> {
  const parsed = z.object({ models: z.array(z.object({ name: z.string() })) }).safeParse((await client.probe('/api/tags', signal)).json);
  if (!parsed.success) throw new ServiceError('GET /api/tags answered without a list of models ({ models: [{ name }] })');
  const names = parsed.data.models.map((model) => model.name);
  return [...new Set(names.flatMap((name) => (name.endsWith(':latest') ? [name, name.slice(0, -':latest'.length)] : [name])))];
}

const STATS = ['total_duration', 'load_duration', 'prompt_eval_count', 'prompt_eval_duration', 'eval_count', 'eval_duration'] as const;

const pieceSchema = z.object({ content: z.string().nullish(), thinking: z.string().nullish(), tool_calls: z.array(z.json()).nullish() });

/** One line of a generate or chat stream (generate's piece is `response`, chat's `message`). */
const chunkSchema = z.object({
  model: z.string().nullish(),
  response: z.string().nullish(),
  thinking: z.string().nullish(),
  message: pieceSchema.nullish(),
  done: z.boolean(),
  done_reason: z.string().nullish(),
  total_duration: z.number().nullish(),
  load_duration: z.number().nullish(),
  prompt_eval_count: z.number().nullish(),
  prompt_eval_duration: z.number().nullish(),
  eval_count: z.number().nullish(),
  eval_duration: z.number().nullish(),
});

type Chunk = z.infer<typeof chunkSchema>;

async function generate(attempt: Attempt, path: string, body: Record<string, Json>): Promise<Json> {
  const answer = await attempt.call('POST', path, { ...body, stream: true });
  const options = body.options;
  const limit = tokenLimit(options !== null && typeof options === 'object' && !Array.isArray(options) ? options.num_predict : undefined);
  const generation = new Generation();
  for await (const line of jsonLines(answer.lines())) {
    const chunk = readChunk(line, path);
    if (chunk.done) return generation.result(chunk);
    if (!generation.add(chunk)) continue;
    const { percent, message } = tokenProgress(generation.tokens, limit);
    attempt.progress(percent, message);
  }
  throw new ServiceError(`POST ${path}: the stream ended before its last object (done: true)`);
}

function readChunk(line: unknown, path: string): Chunk {
  const error = z.object({ error: z.string() }).safeParse(line);
  if (error.success) throw new Error(`POST ${path} failed while streaming: ${error.data.error}`);
  const parsed = chunkSchema.safeParse(line);
  if (!parsed.success) throw new ServiceError(`POST ${path} streamed an object it does not document: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/** A streamed generation put back together. */
class Generation {
  tokens = 0;
  private text = '';
  private thinking = '';
  private readonly toolCalls: Json[] = [];

  /** Adds a chunk's piece; false when it brought nothing. */
  add(chunk: Chunk): boolean {
    const content = chunk.response ?? chunk.message?.content ?? '';
    const thinking = chunk.thinking ?? chunk.message?.thinking ?? '';
    const toolCalls = chunk.message?.tool_calls ?? [];
    if (content === '' && thinking === '' && toolCalls.length === 0) return false;
    this.tokens += 1;
    this.text += content;
    this.thinking += thinking;
    this.toolCalls.push(...toolCalls);
    return true;
  }

  /** The result once the last chunk came; it may carry a last piece too (an answer that was not streamed does). */
  result(last: Chunk): Json {
    this.add(last);
    const stats = Object.fromEntries(STATS.flatMap((name) => (typeof last[name] === 'number' ? [[name, last[name]]] : [])));
    return {
      model: last.model ?? '',
      text: this.text,
      ...(this.thinking ? { thinking: this.thinking } : {}),
      ...(this.toolCalls.length > 0 ? { toolCalls: this.toolCalls } : {}),
      doneReason: last.done_reason ?? null,
      stats,
    };
  }
}
