/**
 * The `openai` connector: runs jobs on any OpenAI-compatible API (OpenAI itself, vLLM,
 * llama.cpp's server, LM Studio, Ollama's /v1...) given its base URL and key. The payload names
 * the operation and carries the API's own request body:
 *
 *   { "operation": "chat", "body": { "model": "gpt-4o-mini", "messages": [...], "max_tokens": 200 } }
 *
 * - `chat`: POST /chat/completions, streamed: the connector sets `stream: true`, and
 *   `stream_options: { include_usage: true }` unless the body has its own `stream_options`. The
 *   answer is a Server-Sent Events stream of `chat.completion.chunk` objects, each choice's text
 *   arriving in `delta.content` and tool calls in `delta.tool_calls` fragments (by index, their
 *   `arguments` in pieces), ended by `data: [DONE]`; with include_usage the chunk before it has
 *   no choices and the usage (https://platform.openai.com/docs/api-reference/chat/create and
 *   https://platform.openai.com/docs/api-reference/chat-streaming). Progress: chunks received
 *   (about a token each) against `max_completion_tokens` or `max_tokens`. Result: `{ id, model,
 *   text, finishReason, toolCalls?, choices? (when n > 1), usage? }`.
 * - `images`: POST /images/generations with the body as given; the result is the API's answer
 *   (`{ created, data: [{ url | b64_json, revised_prompt? }] }`,
 *   https://platform.openai.com/docs/api-reference/images/create).
 * - `responses`: POST /responses with `background: true`, then GET /responses/{id} every
 *   `pollIntervalMs` while its status is `queued` or `in_progress`; the other statuses are final
 *   (https://platform.openai.com/docs/guides/background). Progress messages say the status.
 *   Cancelling the job POSTs /responses/{id}/cancel. Result: `{ id, model, status, text, output,
 *   usage }` (`text`: the `output_text` parts of its messages); `incomplete` (e.g. it reached
 *   max_output_tokens) completes too, with `incompleteDetails`; `failed` fails the job, at once
 *   unless its error code says trying again may help (`server_error`, `rate_limit_exceeded`).
 *
 * Health: GET /models (https://platform.openai.com/docs/api-reference/models/list); the model
 * ids become the connector's capability `models`. Errors, rate limits (429 and `Retry-After`,
 * waited out within each attempt: OpenAI limits every key's requests and tokens per minute and
 * says when to come back) and starting: see service-http.ts. `timeouts.requestMs` bounds the
 * silence of every call, 5 min by default: a model may take that long before its first token.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import type { Json } from '../../../machines/json.js';
import { PermanentError, ServiceError, type ConnectorImplementation } from '../connector.js';
import {
  apiError,
  onAbort,
  readOperation,
  serviceClient,
  serviceConnector,
  startAttempt,
  GENERATION_TIMEOUTS,
  type Attempt,
  type RateLimitOptions,
  type ServiceClient,
  type ServiceConnectorOptions,
} from './service-http.js';
import { parseStreamed, serverSentEvents, tokenLimit, tokenProgress } from './streams.js';

export const DEFAULT_OPENAI_URL = 'https://api.openai.com/v1';

export interface OpenAIConnectorOptions extends ServiceConnectorOptions, RateLimitOptions {
  /** The API's base URL, up to and including its version. Default https://api.openai.com/v1. */
  url?: string;
  /** How often a background response is polled. Default 1 s. */
  pollIntervalMs?: number;
}

const OPERATIONS = ['chat', 'images', 'responses'] as const;

export function openaiConnector(options: OpenAIConnectorOptions = {}): ConnectorImplementation {
  const client = serviceClient(options, { url: DEFAULT_OPENAI_URL, timeouts: GENERATION_TIMEOUTS });
  const pollIntervalMs = options.pollIntervalMs ?? 1_000;
  return serviceConnector(options, { type: 'openai', healthIntervalMs: 60_000 }, {
    async probe(signal) {
      const { json, latencyMs } = await client.probe('/models', signal);
      return { latencyMs, capabilities: { models: modelIds(json) } };
    },
    async run(job, context) {
      const { operation, body } = readOperation(job.payload, OPERATIONS);
      const attempt = startAttempt(client, job, context, options);
      switch (operation) {
        case 'chat':
          return chat(attempt, body);
        case 'images':
          return images(attempt, body);
        case 'responses':
          return background(attempt, body, (path) => cancelResponse(client, path), pollIntervalMs);
      }
    },
  });
}

function modelIds(json: Json): string[] {
  const parsed = z.object({ data: z.array(z.object({ id: z.string() })) }).safeParse(json);
  if (!parsed.success) throw new ServiceError('GET /models answered without a list of models ({ data: [{ id }] })');
  return parsed.data.data.map((model) => model.id);
}

async function chat(attempt: Attempt, body: Record<string, Json>): Promise<Json> {
  const answer = await attempt.call('POST', '/chat/completions', { ...body, stream: true, stream_options: body.stream_options ?? { include_usage: true } });
  const limit = tokenLimit(body.max_completion_tokens ?? body.max_tokens);
  const completion = new ChatCompletion();
  for await (const event of serverSentEvents(answer.lines())) {
    if (event.data === '[DONE]') return completion.result();
    completion.add(event.data);
    const { percent, message } = tokenProgress(completion.tokens, limit);
    attempt.progress(percent, message);
  }
  throw new ServiceError('POST /chat/completions: the stream ended before data: [DONE]');
}

const toolCallDeltaSchema = z.object({
  index: z.number().int().min(0),
  id: z.string().optional(),
  type: z.string().optional(),
  function: z.object({ name: z.string().optional(), arguments: z.string().optional() }).optional(),
});

const chunkSchema = z.object({
  id: z.string().optional(),
  model: z.string().optional(),
  choices: z
    .array(
      z.object({
        index: z.number().int().min(0),
        delta: z.object({ content: z.string().nullish(), tool_calls: z.array(toolCallDeltaSchema).nullish() }).nullish(),
        finish_reason: z.string().nullish(),
      }),
    )
    .nullish(),
  usage: z.record(z.string(), z.json()).nullish(),
});

interface ToolCall {
  id: string;
  type: string;
  function: { name: string; arguments: string };
}

interface Choice {
  index: number;
  text: string;
  finishReason: string | null;
  toolCalls: ToolCall[];
  /** Chunks that brought text or a tool call's piece. */
  tokens: number;
}

/** A streamed chat completion put back together, chunk by chunk. */
class ChatCompletion {
  private id = '';
  private model = '';
  private usage: Record<string, Json> | undefined;
  private readonly choices = new Map<number, Choice>();

  /** Tokens of the longest choice so far. */
  get tokens(): number {
    return Math.max(0, ...[...this.choices.values()].map((choice) => choice.tokens));
  }

  add(data: string): void {
    const json = parseStreamed(data);
    // An error after the stream began comes as an event of its own: the attempt failed, the service answers.
    if (json !== null && typeof json === 'object' && 'error' in json) throw new Error(`the chat stream ended with an error: ${apiError(data)?.message ?? data}`);
    const parsed = chunkSchema.safeParse(json);
    if (!parsed.success) throw new ServiceError(`the chat stream sent a chunk that is not a chat.completion.chunk: ${z.prettifyError(parsed.error)}`);
    const chunk = parsed.data;
    this.id ||= chunk.id ?? '';
    this.model ||= chunk.model ?? '';
    if (chunk.usage) this.usage = chunk.usage;
    for (const piece of chunk.choices ?? []) {
      const choice = this.choice(piece.index);
      if (piece.finish_reason) choice.finishReason = piece.finish_reason;
      const delta = piece.delta;
      if (!delta?.content && !delta?.tool_calls?.length) continue;
      choice.tokens += 1;
      choice.text += delta.content ?? '';
      for (const call of delta.tool_calls ?? []) addToolCall(choice.toolCalls, call);
    }
  }

  result(): Json {
    const choices = [...this.choices.values()].sort((a, b) => a.index - b.index);
    const first = choices[0] ?? this.choice(0);
    return {
      id: this.id,
      model: this.model,
      text: first.text,
      finishReason: first.finishReason,
      ...(first.toolCalls.length > 0 ? { toolCalls: toolCallsJson(first.toolCalls) } : {}),
      ...(choices.length > 1 ? { choices: choices.map((choice) => ({ index: choice.index, text: choice.text, finishReason: choice.finishReason, toolCalls: toolCallsJson(choice.toolCalls) })) } : {}),
      ...(this.usage ? { usage: this.usage } : {}),
    };
  }

  private choice(index: number): Choice {
    let choice = this.choices.get(index);
    if (!choice) this.choices.set(index, (choice = { index, text: '', finishReason: null, toolCalls: [], tokens: 0 }));
    return choice;
  }
}

/** A tool call arrives in pieces sharing its index: the first names it, the others add to its arguments. */
function addToolCall(calls: ToolCall[], piece: z.infer<typeof toolCallDeltaSchema>): void {
  const call = (calls[piece.index] ??= { id: '', type: 'function', function: { name: '', arguments: '' } });
  if (piece.id) call.id = piece.id;
  if (piece.type) call.type = piece.type;
  call.function.name += piece.function?.name ?? '';
  call.function.arguments += piece.function?.arguments ?? '';
}

function toolCallsJson(calls: ToolCall[]): Json {
  return calls.filter(Boolean).map((call) => ({ id: call.id, type: call.type, function: { ...call.function } }));
}

async function images(attempt: Attempt, body: Record<string, Json>): Promise<Json> {
  attempt.progress(0, 'generating');
  return (await attempt.call('POST', '/images/generations', body)).json();
}

const responseSchema = z.object({
  id: z.string(),
  status: z.string(),
  model: z.string().optional(),
  output: z.array(z.json()).nullish(),
  usage: z.json().nullish(),
  error: z.object({ code: z.string().nullish(), message: z.string().nullish() }).nullish(),
  incomplete_details: z.json().nullish(),
});

type BackgroundResponse = z.infer<typeof responseSchema>;

/** The statuses a background response polls through; any other is final. */
const UNFINISHED = new Set(['queued', 'in_progress']);

/** Error codes of a failed response that another attempt may not meet. */
const TRANSIENT_FAILURES = new Set(['server_error', 'rate_limit_exceeded']);

/** Runs a background response to its end; `cancel` asks the service to stop the one at `path` when the job is stopped. */
async function background(attempt: Attempt, body: Record<string, Json>, cancel: (path: string) => void, pollIntervalMs: number): Promise<Json> {
  let response = readResponse(await (await attempt.call('POST', '/responses', { ...body, background: true, stream: false })).json());
  const started = Date.now();
  const path = `/responses/${encodeURIComponent(response.id)}`;
  const stopCancelling = onAbort(attempt.signal, () => cancel(path));
  try {
    while (UNFINISHED.has(response.status)) {
      attempt.progress(0, `${response.status.replace('_', ' ')}, ${Math.round((Date.now() - started) / 1_000)} s`);
      await sleep(pollIntervalMs, undefined, { signal: attempt.signal });
      response = readResponse(await (await attempt.call('GET', path)).json());
    }
  } finally {
    stopCancelling();
  }
  return finished(response);
}

function readResponse(json: Json): BackgroundResponse {
  const parsed = responseSchema.safeParse(json);
  if (!parsed.success) throw new ServiceError(`the Responses API answered with something that is not a response: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

function finished(response: BackgroundResponse): Json {
  if (response.status === 'completed' || response.status === 'incomplete') {
    return {
      id: response.id,
      model: response.model ?? '',
      status: response.status,
      text: outputText(response.output ?? []),
      output: response.output ?? [],
      usage: response.usage ?? null,
      ...(response.status === 'incomplete' ? { incompleteDetails: response.incomplete_details ?? null } : {}),
    };
  }
  if (response.status !== 'failed') throw new Error(`response ${response.id} ended ${response.status}`);
  const code = response.error?.code ?? undefined;
  const message = `response ${response.id} failed: ${response.error?.message ?? 'no reason given'}${code ? ` (${code})` : ''}`;
  if (code !== undefined && TRANSIENT_FAILURES.has(code)) throw new Error(message);
  throw new PermanentError(message, { code: code ?? 'failed' });
}

/** The text of a response: its messages' `output_text` parts, in order. */
function outputText(output: Json[]): string {
  const part = z.object({ type: z.literal('output_text'), text: z.string() });
  const message = z.object({ type: z.literal('message'), content: z.array(z.json()) });
  return output
    .flatMap((item) => message.safeParse(item).data?.content ?? [])
    .map((content) => part.safeParse(content).data?.text ?? '')
    .join('');
}

/**
 * Asks the service to stop a background response whose job was cancelled (or timed out, or
 * lost its lease). Best effort, with its own short deadline: the job has already ended here,
 * and a response left running ends by itself; a failure has nobody to tell.
 */
function cancelResponse(client: ServiceClient, path: string): void {
  client
    .call(`${path}/cancel`, { method: 'POST', timeoutMs: client.timeouts.healthMs })
    .then((answer) => answer.discard())
    .catch(() => {});
}
