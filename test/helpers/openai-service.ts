/**
 * A fake OpenAI-compatible API on a free local port, speaking the protocol as OpenAI's API
 * reference describes it (base URL `<origin>/v1`):
 *
 * - `GET /models`: `{ object: 'list', data: [{ id, object: 'model', ... }] }`.
 * - `POST /chat/completions` with `stream: true`: Server-Sent Events, one `data: <chunk>` per
 *   `chat.completion.chunk` (a role chunk, one per token or tool-call fragment, a chunk with
 *   `finish_reason`, a usage chunk with empty choices when `stream_options.include_usage`), then
 *   `data: [DONE]`; it stops at `max_tokens` with finish_reason `length`. A comment line opens
 *   the stream, as some compatible servers send. Without `messages`: 400.
 * - `POST /images/generations`: `{ created, data: [{ url, revised_prompt }] }`.
 * - `POST /responses` (background), `GET /responses/{id}`, `POST /responses/{id}/cancel`: a
 *   stored response that is `queued`, then `in_progress` for `responsePolls` polls, then
 *   `responseOutcome`, or `cancelled` once cancelled.
 *
 * With `key` set, every request needs `Authorization: Bearer <key>`, else 401 as OpenAI answers.
 */
import { startFakeServer, type FakeServer, type Piece, type Reply } from './fake-server.js';

export interface OpenAIService extends FakeServer {
  /** The base URL the connector is given. */
  readonly url: string;
  key: string | undefined;
  models: string[];
  /** The chat answer, a token each. */
  tokens: string[];
  /** When set, the chat answer is this tool call, its arguments streamed in these pieces. */
  toolCall: { name: string; argumentPieces: string[] } | undefined;
  /** When set, the chat stream ends after this many tokens with an error event. */
  streamError: { afterTokens: number; message: string } | undefined;
  /** Polls answered `in_progress` before a background response is done. */
  responsePolls: number;
  responseOutcome: 'completed' | 'failed' | 'incomplete';
}

interface StoredResponse {
  id: string;
  model: string;
  polls: number;
  cancelled: boolean;
}

const API_ERROR = (message: string, code: string | null, type = 'invalid_request_error') => ({ error: { message, type, param: null, code } });

export async function startOpenAIService(): Promise<OpenAIService> {
  const responses = new Map<string, StoredResponse>();
  // The handler reads the settings from the service object, which tests change as they go.
  let state!: OpenAIService;
  const server: FakeServer = await startFakeServer(async (request, reply) => {
    if (state.key !== undefined && request.headers.authorization !== `Bearer ${state.key}`) {
      return reply.json(401, API_ERROR('Incorrect API key provided: sk-wr***ng.', 'invalid_api_key'));
    }
    const route = `${request.method} ${request.path}`;
    if (route === 'GET /v1/models') {
      return reply.json(200, { object: 'list', data: state.models.map((id) => ({ id, object: 'model', created: 1_700_000_000, owned_by: 'system' })) });
    }
    if (route === 'POST /v1/chat/completions') return chat(request.body, reply);
    if (route === 'POST /v1/images/generations') {
      const n = request.body?.n ?? 1;
      return reply.json(200, { created: 1_700_000_000, data: Array.from({ length: n }, (_, i) => ({ url: `https://images.test/${i + 1}.png`, revised_prompt: request.body?.prompt })) });
    }
    if (route === 'POST /v1/responses') {
      const stored = { id: `resp_${responses.size + 1}`, model: request.body?.model ?? '', polls: 0, cancelled: false };
      responses.set(stored.id, stored);
      return reply.json(200, responseObject(stored, 'queued'));
    }
    const match = /^\/v1\/responses\/([^/]+)(\/cancel)?$/.exec(request.path);
    const stored = match ? responses.get(decodeURIComponent(match[1]!)) : undefined;
    if (!stored) return reply.json(404, API_ERROR(`Unknown route ${route}`, null));
    if (match![2]) stored.cancelled = true;
    else stored.polls += 1;
    reply.json(200, responseObject(stored, statusOf(stored)));
  });

  function statusOf(stored: StoredResponse): string {
    if (stored.cancelled) return 'cancelled';
    return stored.polls <= state.responsePolls ? 'in_progress' : state.responseOutcome;
  }

  function chat(body: any, reply: Reply) {
    if (!Array.isArray(body?.messages)) return reply.json(400, API_ERROR("Missing required parameter: 'messages'.", 'missing_required_parameter'));
    return reply.stream('text/event-stream', chatPieces(body));
  }

  function chatPieces(body: any): Piece[] {
    const model = body.model ?? 'gpt-4o-mini';
    const chunk = (choice: object | null, extra: object = {}) =>
      `data: ${JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1_700_000_000, model, choices: choice ? [{ index: 0, ...choice }] : [], ...extra })}\n\n`;
    const limit: number = body.max_completion_tokens ?? body.max_tokens ?? Infinity;
    const deltas = state.toolCall ? toolCallDeltas(state.toolCall) : state.tokens.map((content) => ({ content }));
    const sent = deltas.slice(0, limit);
    const pieces: Piece[] = [{ text: ': keep-alive\n\n' }, { text: chunk({ delta: { role: 'assistant', content: '' }, finish_reason: null }) }];
    for (const [index, delta] of sent.entries()) {
      if (state.streamError && index === state.streamError.afterTokens) {
        return [...pieces, { text: `data: ${JSON.stringify(API_ERROR(state.streamError.message, 'server_error', 'server_error'))}\n\n` }];
      }
      pieces.push({ text: chunk({ delta, finish_reason: null }), token: true });
    }
    const finish = sent.length < deltas.length ? 'length' : state.toolCall ? 'tool_calls' : 'stop';
    pieces.push({ text: chunk({ delta: {}, finish_reason: finish }) });
    if (body.stream_options?.include_usage) {
      pieces.push({ text: chunk(null, { usage: { prompt_tokens: 9, completion_tokens: sent.length, total_tokens: 9 + sent.length } }) });
    }
    pieces.push({ text: 'data: [DONE]\n\n' });
    return pieces;
  }

  function responseObject(stored: StoredResponse, status: string) {
    const done = status === 'completed' || status === 'incomplete';
    return {
      id: stored.id,
      object: 'response',
      created_at: 1_700_000_000,
      status,
      background: true,
      model: stored.model,
      output: done ? [{ type: 'message', id: 'msg_1', role: 'assistant', content: [{ type: 'output_text', text: 'Otters ', annotations: [] }, { type: 'output_text', text: 'in space.', annotations: [] }] }] : [],
      usage: done ? { input_tokens: 12, output_tokens: 4, total_tokens: 16 } : null,
      error: status === 'failed' ? { code: 'invalid_prompt', message: 'The prompt was flagged.' } : null,
      incomplete_details: status === 'incomplete' ? { reason: 'max_output_tokens' } : null,
    };
  }

  state = Object.assign(server, {
    url: `${server.origin}/v1`,
    key: undefined,
    models: ['gpt-4o-mini', 'gpt-image-1', 'o4-mini'],
    tokens: ['Hello', ',', ' world', '!'],
    toolCall: undefined,
    streamError: undefined,
    responsePolls: 2,
    responseOutcome: 'completed' as const,
  });
  return state;
}

/** A tool call as the stream sends it: the first fragment names it, the rest bring its arguments. */
function toolCallDeltas({ name, argumentPieces }: { name: string; argumentPieces: string[] }) {
  return [
    { tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name, arguments: '' } }] },
    ...argumentPieces.map((piece) => ({ tool_calls: [{ index: 0, function: { arguments: piece } }] })),
  ];
}
