/**
 * A TCP proxy in front of a hub, so a test can cut the network between a client and its hub:
 * `cut(ms)` drops every open connection and refuses new ones for that long, as a pulled cable or
 * a restarted load balancer would; `stall()` stops reading what the hub sends, as a frozen client
 * would, so the hub's side of the connection backs up.
 */
import { connect, createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { onTestFinished } from 'vitest';

export interface TcpProxy {
  /** http://127.0.0.1:<proxy port> */
  readonly url: string;
  /** Drops every connection and refuses new ones for `ms`; resolves when it lets them through again. */
  cut(ms: number): Promise<void>;
  /** How many connections it has let through so far. */
  readonly connections: number;
  /** Stops reading from the hub on every open connection (the hub's writes back up). */
  stall(): void;
  /** How many connections the hub closed itself. */
  readonly closedByHub: number;
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const open = new Set<Socket>();
  const upstreams = new Map<Socket, Socket>();
  let refusing = false;
  let connections = 0;
  let closedByHub = 0;
  const server = createServer((client) => {
    if (refusing) {
      client.destroy();
      return;
    }
    connections += 1;
    const upstream = connect(targetPort, '127.0.0.1');
    upstreams.set(upstream, client);
    upstream.on('end', () => (closedByHub += 1));
    for (const socket of [client, upstream]) {
      open.add(socket);
      socket.on('error', () => {});
      socket.on('close', () => {
        open.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(async () => {
    for (const socket of open) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get connections() {
      return connections;
    },
    get closedByHub() {
      return closedByHub;
    },
    stall() {
      for (const [upstream, client] of upstreams) {
        upstream.unpipe(client);
        upstream.pause();
      }
    },
    async cut(ms) {
      refusing = true;
      for (const socket of open) socket.destroy();
      await sleep(ms);
      refusing = false;
    },
  };
}
