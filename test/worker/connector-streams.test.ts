/**
 * The pieces the openai and ollama connectors share: reading streams as they arrive (lines, SSE,
 * NDJSON), the wait a 429 asks for, error bodies of both APIs, and their command-line settings.
 */
import { describe, expect, it } from 'vitest';
import { jsonLines, lines, serverSentEvents, tokenProgress } from '../../src/worker/connectors/streams.js';
import { apiError, retryAfterMs } from '../../src/worker/connectors/service-http.js';
import { connectorsFromSpec } from '../../src/worker/connector-spec.js';

/** The text as the network might cut it: one chunk per piece. */
async function* chunks(...pieces: string[]): AsyncGenerator<Uint8Array> {
  for (const piece of pieces) yield new TextEncoder().encode(piece);
}

async function all<T>(source: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of source) items.push(item);
  return items;
}

describe('lines', () => {
  it('ends a line at LF, CRLF or CR, also when a CRLF or a character is cut between chunks, and keeps a last line without an end', async () => {
    const euro = new TextEncoder().encode('€');
    async function* cut() {
      yield* chunks('one\r', '\ntwo\rthree\n\nfour ');
      yield euro.slice(0, 1);
      yield euro.slice(1);
      yield* chunks('\r');
    }
    expect(await all(lines(cut()))).toEqual(['one', 'two', 'three', '', 'four €']);
  });
});

describe('serverSentEvents', () => {
  it('reads events as the standard says: fields, joined data lines, comments, named events, ids, and an unfinished event dropped', async () => {
    const text = ': keep-alive\n\ndata: {"a":1}\n\nevent: delta\nid: 7\ndata: first\ndata:second\nretry: 100\n\ndata\n\nignored: x\n\ndata: [DONE]\n\ndata: cut off';
    expect(await all(serverSentEvents(lines(chunks(...text.split(/(?<=:)/)))))).toEqual([
      { event: 'message', data: '{"a":1}', id: '' },
      { event: 'delta', data: 'first\nsecond', id: '7' },
      { event: 'message', data: '', id: '7' },
      { event: 'message', data: '[DONE]', id: '7' },
    ]);
  });
});

describe('jsonLines', () => {
  it('parses each non-blank line, and says so when a line is not JSON', async () => {
    expect(await all(jsonLines(lines(chunks('{"a":1}\n\n{"b"', ':2}\n'))))).toEqual([{ a: 1 }, { b: 2 }]);
    await expect(all(jsonLines(lines(chunks('{"a":1}\n<html>\n'))))).rejects.toThrow('the service streamed something that is not JSON: <html>');
  });
});

describe('tokenProgress', () => {
  it('is the share of the limit, below 100 until the answer is whole; without a limit only the count is said', () => {
    expect(tokenProgress(1, 3)).toEqual({ percent: 33, message: '1 of 3 tokens' });
    expect(tokenProgress(3, 3)).toEqual({ percent: 99, message: '3 of 3 tokens' });
    expect(tokenProgress(1, undefined)).toEqual({ percent: 0, message: '1 token' });
  });
});

describe('retryAfterMs', () => {
  const now = Date.parse('2026-12-01T12:00:00Z');
  it('reads retry-after-ms, Retry-After in seconds or as an HTTP date, and nothing else', () => {
    expect(retryAfterMs(new Headers({ 'retry-after-ms': '250', 'retry-after': '9' }), now)).toBe(250);
    expect(retryAfterMs(new Headers({ 'retry-after': '20' }), now)).toBe(20_000);
    expect(retryAfterMs(new Headers({ 'retry-after': 'Tue, 01 Dec 2026 12:00:30 GMT' }), now)).toBe(30_000);
    expect(retryAfterMs(new Headers({ 'retry-after': 'Tue, 01 Dec 2026 11:00:00 GMT' }), now)).toBe(0);
    expect(retryAfterMs(new Headers({ 'retry-after': 'soon' }), now)).toBeUndefined();
    expect(retryAfterMs(new Headers(), now)).toBeUndefined();
  });
});

describe('apiError', () => {
  it('reads OpenAI\'s and Ollama\'s error bodies', () => {
    expect(apiError('{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}')).toEqual({ message: 'Rate limit reached', code: 'rate_limit_exceeded', type: 'requests' });
    expect(apiError('{"error":{"message":"quota","type":"insufficient_quota","code":null}}')).toEqual({ message: 'quota', type: 'insufficient_quota' });
    expect(apiError('{"error":"model \'x\' not found"}')).toEqual({ message: "model 'x' not found" });
    expect(apiError('<html>Bad Gateway</html>')).toBeUndefined();
  });
});

describe('openai and ollama connectors from the command line', () => {
  it('take their URLs and key from the flags over the config file, and need a key for OpenAI\'s own API only', () => {
    expect(() => connectorsFromSpec('openai:1')).toThrow(/openai connectors need an API key: --openai-key or OPENAI_API_KEY/);
    expect(() => connectorsFromSpec('openai:1', { openaiUrl: 'https://api.openai.com/v1' })).toThrow(/need an API key/);
    expect(connectorsFromSpec('openai:2', { openaiKey: 'sk-x' }).map((connector) => connector.type)).toEqual(['openai', 'openai']);
    const local = connectorsFromSpec('openai:1,ollama:1', { config: { openai: { url: 'http://127.0.0.1:8000/v1', healthIntervalMs: null }, ollama: { healthIntervalMs: 1_000 } } });
    expect(local.map((connector) => [connector.type, connector.healthIntervalMs])).toEqual([['openai', null], ['ollama', 1_000]]);
  });
});
