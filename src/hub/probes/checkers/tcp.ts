/** TCP (`tcp://host:port`): a connection accepted, then closed. Says the port listens, nothing more. */
import { connect, type Socket } from 'node:net';
import type { Checker } from './checker.js';

export function tcpChecker(url: string): Checker {
  const { hostname, port } = new URL(url);
  // Square brackets belong to the URL, not to the address.
  const host = hostname.replace(/^\[(.*)\]$/, '$1');
  const open = new Set<Socket>();
  return {
    check: () =>
      new Promise((resolve, reject) => {
        const socket = connect({ host, port: Number(port) });
        open.add(socket);
        socket.once('close', () => open.delete(socket));
        socket.once('error', reject);
        socket.once('connect', () => {
          socket.destroy();
          resolve('connected');
        });
      }),
    async reset() {
      // A connection attempt that hangs (a port that drops packets) is cut when its check times out.
      for (const socket of open) socket.destroy();
    },
  };
}
