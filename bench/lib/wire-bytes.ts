/**
 * Bytes at the wire: an http.Agent that counts what its TCP connections read and wrote
 * (`net.Socket.bytesRead`/`bytesWritten`), so HTTP status lines, headers, chunk framing,
 * WebSocket upgrade answers, frame headers and pings all count, as they do on a network.
 * Pass it to `http.get` or to socket.io-client (`agent`, handed down to `ws`).
 */
import { Agent, type AgentOptions } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

export class CountingAgent extends Agent {
  private readonly live = new Set<Socket>();
  private closedRead = 0;
  private closedWritten = 0;
  connections = 0;

  constructor(options: AgentOptions = {}) {
    super(options);
  }

  override createConnection(...args: Parameters<Agent['createConnection']>): Duplex | null | undefined {
    const socket = super.createConnection(...args) as Socket;
    this.connections += 1;
    this.live.add(socket);
    socket.once('close', () => {
      this.live.delete(socket);
      this.closedRead += socket.bytesRead;
      this.closedWritten += socket.bytesWritten;
    });
    return socket;
  }

  /** Everything received so far, over every connection this agent made. */
  get bytesRead(): number {
    let total = this.closedRead;
    for (const socket of this.live) total += socket.bytesRead;
    return total;
  }

  get bytesWritten(): number {
    let total = this.closedWritten;
    for (const socket of this.live) total += socket.bytesWritten;
    return total;
  }
}
