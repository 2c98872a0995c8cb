/**
 * HTTP(S) (`http://`, `https://`; S3 and MinIO health endpoints among others) through Node's
 * http client: a GET on a kept-alive connection. It passes on an expected status (any 2xx
 * unless told) and, when asked, a body containing the expected text.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Checker } from './checker.js';

export interface HttpExpectations {
  /** Passing status codes; undefined: any 2xx. */
  status: number[] | undefined;
  /** Text the body must contain. */
  body: string | undefined;
}

/** Bytes of the body read to look for the expected text: a health answer is short. */
const BODY_LIMIT = 64 * 1024;

/**
 * Connections are kept between checks only when they come within 4 s: servers close idle ones
 * after a few seconds (Node's after 5 s), and a request sent on a connection the server is
 * closing fails, which would read as the service failing.
 */
const KEEP_ALIVE_BELOW_MS = 4_000;

export function httpChecker(url: string, intervalMs: number, timeoutMs: number, expect: HttpExpectations): Checker {
  const secure = url.startsWith('https:');
  const options = { keepAlive: intervalMs < KEEP_ALIVE_BELOW_MS, maxSockets: 1 };
  const newAgent = () => (secure ? new HttpsAgent(options) : new HttpAgent(options));
  let agent = newAgent();
  return {
    async check() {
      const response = await get(url, agent, timeoutMs, secure);
      const body = await readBody(response, expect.body === undefined ? 0 : BODY_LIMIT);
      const status = response.statusCode ?? 0;
      const passes = expect.status ? expect.status.includes(status) : status >= 200 && status < 300;
      if (!passes) throw new Error(`HTTP ${status}, expected ${expect.status ? expect.status.join(' or ') : '2xx'}`);
      if (expect.body !== undefined && !body.includes(expect.body)) throw new Error(`HTTP ${status} without ${JSON.stringify(expect.body)} in its body`);
      return expect.body === undefined ? `HTTP ${status}` : `HTTP ${status} with ${JSON.stringify(expect.body)}`;
    },
    async reset() {
      // Destroys its sockets (a request still waiting fails with them): nothing stays open.
      agent.destroy();
      agent = newAgent();
    },
  };
}

function get(url: string, agent: HttpAgent, timeoutMs: number, secure: boolean): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const request = (secure ? httpsRequest : httpRequest)(url, { agent, method: 'GET', headers: { 'user-agent': 'statehub-probe' }, timeout: timeoutMs }, resolve);
    request.once('timeout', () => request.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    request.once('error', reject);
    request.end();
  });
}

/** Up to `limit` bytes of the body as text; the rest is read and dropped so the connection can be kept. */
function readBody(response: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    response.on('data', (chunk: Buffer) => {
      if (size < limit) chunks.push(chunk.subarray(0, limit - size));
      size += chunk.length;
    });
    response.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    response.once('error', reject);
    response.once('aborted', () => reject(new Error('the answer was cut off')));
  });
}
