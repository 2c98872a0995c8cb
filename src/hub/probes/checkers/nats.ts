/** NATS (`nats://`) through nats.js: a flush on a kept connection, which is a PING answered PONG. */
import { connect } from 'nats';
import { CLOSE_WITHIN_MS, KeptConnection, settleWithin, type Checker } from './checker.js';

export function natsChecker(url: string, timeoutMs: number): Checker {
  const parsed = new URL(url);
  // nats.js takes credentials as options, not in the server URL.
  const user = decodeURIComponent(parsed.username);
  const pass = decodeURIComponent(parsed.password);
  const connection = new KeptConnection(
    () =>
      connect({
        servers: `${parsed.hostname}:${parsed.port || 4222}`,
        timeout: timeoutMs,
        reconnect: false, // a probe reports a broken connection; the next check connects again
        name: 'statehub probe',
        ...(user && pass ? { user, pass } : user ? { token: user } : {}),
      }),
    (client) => settleWithin(client.close(), CLOSE_WITHIN_MS),
  );
  return {
    check: () =>
      connection.use(async (client) => {
        await client.flush();
        return 'PONG';
      }),
    reset: () => connection.reset(),
  };
}
