/** A local stand-in for Stately's inspector server: a WebSocket server that keeps every inspection message it receives. */
import type { Socket } from 'node:net';
import { onTestFinished } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import type { StatelyInspectionEvent } from '@statelyai/inspect';
import { Conditions } from './conditions.js';

export interface InspectorReceiver {
  /** ws://127.0.0.1:<port> */
  readonly url: string;
  /** Every message received, from every connection, in arrival order. */
  readonly messages: StatelyInspectionEvent[];
  /** Connections accepted so far. */
  readonly connections: number;
  /** The sockets of open connections. */
  readonly sockets: ReadonlySet<WebSocket>;
  /** Stops reading every open connection, as a receiver that hangs does: what is sent to it piles up at the sender. */
  pauseReading(): void;
  /** Resolves once `condition` holds, checked after every message and connection change. */
  until(condition: () => boolean, description: string, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function inspectorReceiver(): Promise<InspectorReceiver> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
  const { port } = server.address() as { port: number };
  const messages: StatelyInspectionEvent[] = [];
  const sockets = new Set<WebSocket>();
  const streams = new Set<Socket>();
  const conditions = new Conditions();
  let connections = 0;
  server.on('connection', (socket, request) => {
    connections += 1;
    sockets.add(socket);
    streams.add(request.socket);
    socket.on('message', (data) => {
      messages.push(JSON.parse(data.toString()) as StatelyInspectionEvent);
      conditions.notify();
    });
    socket.on('close', () => {
      sockets.delete(socket);
      streams.delete(request.socket);
      conditions.notify();
    });
    conditions.notify();
  });
  const close = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.terminate();
      server.close(() => resolve());
    });
  onTestFinished(close);
  return {
    url: `ws://127.0.0.1:${port}`,
    messages,
    get connections() {
      return connections;
    },
    sockets,
    pauseReading: () => streams.forEach((stream) => stream.pause()),
    until: (condition, description, timeoutMs = 15_000) =>
      conditions.until(condition, description, { timeoutMs, got: () => `${messages.length} messages over ${connections} connections` }),
    close,
  };
}

/** The messages about one session, in order. */
export function about(messages: readonly StatelyInspectionEvent[], sessionId: string): StatelyInspectionEvent[] {
  return messages.filter((message) => message.sessionId === sessionId);
}
