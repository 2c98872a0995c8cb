/** PostgreSQL (`postgres://`, `postgresql://`) through pg: `SELECT 1` on a kept connection. */
import pg from 'pg';
import { CLOSE_WITHIN_MS, KeptConnection, settleWithin, type Checker } from './checker.js';

export function postgresChecker(url: string, timeoutMs: number): Checker {
  const connection = new KeptConnection(
    async () => {
      const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs, application_name: 'statehub probe' });
      client.on('error', () => {}); // a broken connection fails the next check, which drops it
      try {
        await client.connect();
      } catch (error) {
        await settleWithin(client.end(), CLOSE_WITHIN_MS);
        throw error;
      }
      return client;
    },
    async (client) => {
      await settleWithin(client.end(), CLOSE_WITHIN_MS);
      // A server that stopped answering never says goodbye: cut the socket.
      client.connection.stream.destroy();
    },
  );
  return {
    check: () =>
      connection.use(async (client) => {
        await client.query('SELECT 1');
        return 'SELECT 1 answered';
      }),
    reset: () => connection.reset(),
  };
}
