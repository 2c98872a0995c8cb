/** Redis (`redis://`, `rediss://`) through ioredis: PING on a kept connection, answered PONG. */
import { Redis } from 'ioredis';
import { KeptConnection, type Checker } from './checker.js';

export function redisChecker(url: string, timeoutMs: number): Checker {
  const connection = new KeptConnection(
    async () => {
      const client = new Redis(url, {
        lazyConnect: true,
        connectTimeout: timeoutMs,
        // A probe reports a broken connection; it neither queues commands nor reconnects by itself.
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
      });
      client.on('error', () => {}); // each check's failure is its answer
      try {
        await client.connect();
      } catch (error) {
        client.disconnect();
        throw error;
      }
      return client;
    },
    // disconnect() closes the socket at once; QUIT would wait for a server that may not answer.
    async (client) => client.disconnect(),
  );
  return {
    check: () => connection.use((client) => client.ping()),
    reset: () => connection.reset(),
  };
}
