/**
 * A fake Ollama server on a free local port, speaking the protocol as Ollama's docs/api.md
 * describes it:
 *
 * - `GET /api/version`: `{ version }`; `GET /api/tags`: `{ models: [{ name, model, size, ... }] }`.
 * - `POST /api/generate`, `POST /api/chat` (streamed, as the connector asks): newline-delimited
 *   JSON, one object per token (`response`, or chat's `message`), the last with `done: true`,
 *   `done_reason` and the statistics; it stops at `options.num_predict` with done_reason
 *   `length`. A model it does not have: 404 `{ error: "model '...' not found" }`; no model: 400.
 *   An error after the stream began is a line `{ error }`, as docs.ollama.com/api/errors says.
 * - `POST /api/embed`: `{ model, embeddings: [[...], ...], ... }`, one vector per input.
 */
import { startFakeServer, type FakeServer, type Piece, type Reply } from './fake-server.js';

export interface OllamaService extends FakeServer {
  /** Installed models, as `GET /api/tags` names them. */
  models: string[];
  /** The answer, a token each. */
  tokens: string[];
  /** When set, the stream ends after this many tokens with an error line. */
  streamError: { afterTokens: number; message: string } | undefined;
}

const STATS = { total_duration: 1_200_000_000, load_duration: 800_000_000, prompt_eval_count: 26, prompt_eval_duration: 130_000_000, eval_duration: 250_000_000 };

export async function startOllamaService(options: { port?: number } = {}): Promise<OllamaService> {
  // The handler reads the settings from the service object, which tests change as they go.
  let state!: OllamaService;
  const server: FakeServer = await startFakeServer(async (request, reply) => {
    const route = `${request.method} ${request.path}`;
    if (route === 'GET /api/version') return reply.json(200, { version: '0.6.2' });
    if (route === 'GET /api/tags') {
      return reply.json(200, { models: state.models.map((name) => ({ name, model: name, modified_at: '2026-11-04T14:56:49Z', size: 2_019_393_189, digest: 'a80c4f17acd5', details: { format: 'gguf', family: 'llama' } })) });
    }
    if (route !== 'POST /api/generate' && route !== 'POST /api/chat' && route !== 'POST /api/embed') return reply.json(404, { error: `no route ${route}` });
    const model = request.body?.model;
    if (typeof model !== 'string') return reply.json(400, { error: 'model is required' });
    if (!installed(model)) return reply.json(404, { error: `model '${model}' not found` });
    if (route === 'POST /api/embed') return embed(model, request.body.input, reply);
    return generate(request.path === '/api/chat', request.body, reply);
  }, options);

  function installed(model: string): boolean {
    return state.models.includes(model) || state.models.includes(`${model}:latest`);
  }

  function embed(model: string, input: unknown, reply: Reply) {
    const inputs = Array.isArray(input) ? input : [input];
    reply.json(200, { model, embeddings: inputs.map((_, i) => [0.01 * (i + 1), -0.02, 0.05]), total_duration: 14_143_917, load_duration: 1_019_500, prompt_eval_count: 8 });
  }

  function generate(chat: boolean, body: any, reply: Reply) {
    const line = (piece: string, extra: object = {}) =>
      `${JSON.stringify({ model: body.model, created_at: '2026-11-04T19:22:45.499127Z', ...(chat ? { message: { role: 'assistant', content: piece } } : { response: piece }), ...extra })}\n`;
    const limit: number = body.options?.num_predict ?? Infinity;
    const sent = state.tokens.slice(0, limit);
    const pieces: Piece[] = [];
    for (const [index, token] of sent.entries()) {
      if (state.streamError && index === state.streamError.afterTokens) return reply.stream('application/x-ndjson', [...pieces, { text: `${JSON.stringify({ error: state.streamError.message })}\n` }]);
      pieces.push({ text: line(token, { done: false }), token: true });
    }
    pieces.push({ text: line('', { done: true, done_reason: sent.length < state.tokens.length ? 'length' : 'stop', ...STATS, eval_count: sent.length, ...(chat ? {} : { context: [1, 2, 3] }) }) });
    return reply.stream('application/x-ndjson', pieces);
  }

  state = Object.assign(server, { models: ['llama3.2:latest', 'qwen2.5:7b', 'nomic-embed-text:latest'], tokens: ['The', ' sky', ' is', ' blue', '.'], streamError: undefined });
  return state;
}
