/**
 * Ports for servers a test stops and starts again on the same port, or keeps closed on purpose.
 * They are drawn below the kernel's ephemeral range (Linux: 32768 and up): in that range, any
 * process of the suite binding port 0 (a hub, a worker) could take the port while it is free.
 */
import { createServer } from 'node:net';

const LOW = 20_000;
const SPAN = 12_000;
const TRIES = 50;

/** A random port below the ephemeral range; not checked. */
export function lowPort(): number {
  return LOW + Math.floor(Math.random() * SPAN);
}

/** Calls `listen` on random low ports until one is free; rethrows anything but EADDRINUSE. */
export async function listenOnLowPort<T>(listen: (port: number) => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await listen(lowPort());
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= TRIES) throw error;
    }
  }
}

/** A low port that was free a moment ago (for a server started by another process, e.g. redis-server). */
export function freePort(): Promise<number> {
  return listenOnLowPort(
    (port) =>
      new Promise<number>((resolve, reject) => {
        const server = createServer();
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => server.close(() => resolve(port)));
      }),
  );
}
