/** A real HTTP service on a free local port, for the http connector to talk to: POST /jobs runs a job, GET /health answers health checks. */
import { startFakeServer, type FakeServer } from './fake-server.js';

export interface JobAnswer {
  status: number;
  body: unknown;
}

export interface TestService extends FakeServer {
  /** Where jobs are POSTed. */
  readonly jobsUrl: string;
  /** Status of the next health checks. Default 200. */
  healthStatus: number;
  /** Answers a POSTed job. Default: 200 with `{ echoed: <body> }`. */
  answerJob: (body: any) => JobAnswer;
}

export async function startService(): Promise<TestService> {
  // The handler reads the settings from the service object, which tests change as they go.
  let service!: TestService;
  const server = await startFakeServer((request, reply) => {
    if (request.method === 'GET' && request.path === '/health') return reply.json(service.healthStatus, { ok: service.healthStatus < 400 });
    if (request.method === 'POST' && request.path === '/jobs') {
      const answer = service.answerJob(request.body);
      return reply.json(answer.status, answer.body);
    }
    reply.json(404, { error: 'not found' });
  });
  service = Object.assign(server, {
    jobsUrl: `${server.origin}/jobs`,
    healthStatus: 200,
    answerJob: (body: any): JobAnswer => ({ status: 200, body: { echoed: body } }),
  });
  return service;
}
