/**
 * How many messages one socket may send per second (rate-limiter-flexible, in memory): a worker
 * or monitor flooding the hub gets told so, and the others are served.
 */
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { HubError } from '../protocol/errors.js';

export class SocketRate {
  private readonly limiter: RateLimiterMemory | undefined;

  /** `perSecond`: messages per second per socket; 0 for no limit. */
  constructor(private readonly perSecond: number) {
    this.limiter = perSecond > 0 ? new RateLimiterMemory({ points: perSecond, duration: 1 }) : undefined;
  }

  /** Undefined when the socket's message may be handled, else the `rate_limited` refusal to answer it with. */
  async refusal(socketId: string): Promise<HubError | undefined> {
    if (!this.limiter) return undefined;
    try {
      await this.limiter.consume(socketId);
      return undefined;
    } catch (result) {
      if (!(result instanceof RateLimiterRes)) throw result;
      const retryMs = Math.max(1, result.msBeforeNext);
      return new HubError('rate_limited', `more than ${this.perSecond} messages per second from this socket; send again in ${retryMs} ms`, { retryAfterMs: retryMs });
    }
  }
}
