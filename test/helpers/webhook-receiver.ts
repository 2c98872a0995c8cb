/**
 * A webhook endpoint for tests, on a free local port: it checks every request's signature with
 * the README's `verifyWebhook`, keeps what it accepted in arrival order, and answers as the test
 * says (a status, or a promise of one for a slow endpoint). Closed when the test ends.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { onTestFinished } from 'vitest';
import type { ActorRecord } from 'statehub';
import { verifyWebhook } from '../examples/verify-webhook.js';
import { Conditions } from './conditions.js';

export interface Received {
  offset: string;
  record: ActorRecord;
  /** The `x-statehub-webhook` header. */
  webhook: string;
}

/** What the endpoint answers a request it verified: a status, or a status later. */
export type Answer = (received: Received, attempt: number) => number | Promise<number>;

export class WebhookReceiver {
  /** Requests answered 2xx, in the order they arrived. */
  readonly accepted: Received[] = [];
  /** Every verified request, whatever it was answered. */
  readonly attempts: Received[] = [];
  /** Requests whose signature did not verify (answered 401). */
  forged = 0;
  /** Verified requests not answered yet, whose connection is still open. */
  readonly waiting = new Set<Received>();
  answer: Answer = () => 204;
  private readonly conditions = new Conditions();

  private constructor(
    readonly url: string,
    private readonly server: ReturnType<typeof createServer>,
    public secret: string,
  ) {}

  static async start(secret: string, path = '/hook'): Promise<WebhookReceiver> {
    let receiver: WebhookReceiver | undefined;
    const server = createServer((request, response) => void receiver?.handle(request, response));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    receiver = new WebhookReceiver(`http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`, server, secret);
    onTestFinished(() => receiver.close());
    return receiver;
  }

  /** The offsets accepted, in arrival order (duplicates included). */
  offsets(): string[] {
    return this.accepted.map((received) => received.offset);
  }

  /** Resolves once `condition` holds, checked after every request. */
  until(condition: () => boolean, description: string, timeoutMs = 30_000): Promise<void> {
    return this.conditions.until(condition, description, {
      timeoutMs,
      got: () => `${this.accepted.length} accepted and ${this.attempts.length} attempts, ${this.forged} forged`,
    });
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    let body = '';
    request.setEncoding('utf8');
    for await (const chunk of request) body += chunk;
    if (!verifyWebhook(this.secret, body, request.headers['x-statehub-signature'] as string | undefined)) {
      this.forged += 1;
      response.writeHead(401).end();
      this.conditions.notify();
      return;
    }
    const { offset, record } = JSON.parse(body) as { offset: string; record: ActorRecord };
    const received: Received = { offset, record, webhook: String(request.headers['x-statehub-webhook']) };
    this.attempts.push(received);
    this.waiting.add(received);
    response.once('close', () => {
      this.waiting.delete(received);
      this.conditions.notify();
    });
    this.conditions.notify();
    const status = await this.answer(received, this.attempts.filter((attempt) => attempt.offset === offset).length);
    // The hub gave up on it (its timeout): the change was not delivered.
    if (response.destroyed || !response.socket || response.socket.destroyed) return;
    if (status >= 200 && status < 300) this.accepted.push(received);
    response.writeHead(status, status >= 300 && status < 400 ? { location: 'http://127.0.0.1:1/elsewhere' } : {}).end();
    this.conditions.notify();
  }
}
