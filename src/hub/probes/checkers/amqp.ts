/**
 * AMQP 0-9-1 (`amqp://`, `amqps://`; RabbitMQ) through amqplib: opening and closing a channel on
 * a kept connection, two round trips through the broker that change nothing.
 */
import { connect, type ChannelModel } from 'amqplib';
import { CLOSE_WITHIN_MS, KeptConnection, settleWithin, type Checker } from './checker.js';

export function amqpChecker(url: string, timeoutMs: number): Checker {
  const connection = new KeptConnection(
    async () => {
      const model = await connect(url, { timeout: timeoutMs });
      model.on('error', () => {}); // a broken connection fails the next check, which drops it
      return model;
    },
    async (model) => {
      await settleWithin(model.close(), CLOSE_WITHIN_MS);
      socketOf(model)?.destroy();
    },
  );
  return {
    check: () =>
      connection.use(async (model) => {
        const channel = await model.createChannel();
        await channel.close();
        return 'channel opened and closed';
      }),
    reset: () => connection.reset(),
  };
}

/**
 * The connection's socket: amqplib's typings do not name it (`connection.stream` at run time),
 * and close() waits for the broker's close-ok, which a broker that stopped answering never sends.
 */
function socketOf(model: ChannelModel): { destroy(): void } | undefined {
  const stream = (model.connection as { stream?: unknown }).stream;
  return typeof stream === 'object' && stream !== null && typeof (stream as { destroy?: unknown }).destroy === 'function' ? (stream as { destroy(): void }) : undefined;
}
