/** A real HTTP service on a free local port, for the http connector to talk to: POST /jobs runs a job, GET /health answers health checks. */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { onTestFinished } from 'vitest';

export interface ServiceRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: any;
}

export interface JobAnswer {
  status: number;
  body: unknown;
}

export interface TestService {
  readonly origin: string;
  /** Where jobs are POSTed. */
  readonly jobsUrl: string;
  /** Every request it received, in order. */
  readonly requests: ServiceRequest[];
  /** Status of the next health checks. Default 200. */
  healthStatus: number;
  /** Answers a POSTed job. Default: 200 with `{ echoed: <body> }`. */
  answerJob: (body: any) => JobAnswer;
  /** Stops listening and drops open connections: from now on it is unreachable. */
  close(): Promise<void>;
}

export async function startService(): Promise<TestService> {
  const requests: ServiceRequest[] = [];
  const service = {
    healthStatus: 200,
    answerJob: (body: any): JobAnswer => ({ status: 200, body: { echoed: body } }),
  };
  const server = createServer(async (request, response) => {
    let text = '';
    for await (const chunk of request) text += chunk;
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      // keep the text
    }
    const path = (request.url ?? '/').split('?')[0]!;
    requests.push({ method: request.method ?? '', path, headers: request.headers, body });
    const send = (status: number, json: unknown) => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(json));
    };
    if (request.method === 'GET' && path === '/health') return send(service.healthStatus, { ok: service.healthStatus < 400 });
    if (request.method === 'POST' && path === '/jobs') {
      const answer = service.answerJob(body);
      return send(answer.status, answer.body);
    }
    send(404, { error: 'not found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let open = true;
  const close = async () => {
    if (!open) return;
    open = false;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  onTestFinished(close);
  return Object.assign(service, { origin, jobsUrl: `${origin}/jobs`, requests, close });
}
