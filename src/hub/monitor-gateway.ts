/**
 * Socket.IO namespace `/monitor`: read-only observers. Each gets `snapshot` (or a replay of the
 * changes after its `since`, as `transitions`), then `synced` `{ offset, via }`, then live
 * `transitions` batches. Observers without a filter share
 * one room per form (whole records or deltas), so each batch is encoded once for all of them;
 * those that asked for the events that caused each change (inspectors) get their own sends.
 */
import type { Namespace, Socket } from 'socket.io';
import { HubError, invalidInput } from '../protocol/errors.js';
import { checkShape } from '../protocol/shape.js';
import { reject, toConnectError } from './socket-errors.js';
import { monitorAuthSchema, recordFilter, type MonitorAuth } from '../protocol/monitor.js';
import type { LogEntry } from '../protocol/record.js';
import type { StreamEntry } from '../protocol/delta.js';
import type { Auth } from './auth.js';
import { encodeEventPacket, encodeSnapshot } from '../protocol/encoding.js';
import type { Feed } from './feed.js';
import type { ReportError } from './report-error.js';
import type { SocketRate } from './socket-rate.js';

const LIVE_ROOM = 'live';
/** Unfiltered monitors that asked for deltas. */
const DELTA_ROOM = 'live:deltas';
/** A monitor hears from the hub at least this often (ms): changes, or else a tick. */
export const TICK_MS = 1_000;
/** Replays and catch-ups are sent in batches of at most this many changes. */
export const REPLAY_BATCH = 1_000;

export interface MonitorGatewayOptions {
  /** A monitor whose unsent packets exceed this is cut off; it resumes with `since` when it reconnects. */
  maxQueuedPackets: number;
  /** Messages per second each monitor socket may send (it should send none). */
  rate: SocketRate;
  onError: ReportError;
}

export function attachMonitorGateway(nsp: Namespace, feed: Feed, auth: Auth, options: MonitorGatewayOptions): () => void {
  nsp.use((socket, next) => {
    try {
      checkShape(socket.handshake.auth, 'auth');
      const parsed = monitorAuthSchema.safeParse(socket.handshake.auth ?? {});
      if (!parsed.success) throw invalidInput(parsed.error, 'monitor handshake auth');
      auth.check(parsed.data.token, 'read');
      socket.data.request = parsed.data;
      next();
    } catch (error) {
      next(toConnectError(error));
    }
  });

  nsp.on('connection', (socket) => {
    socket.onAny(async (event: string, ...args: unknown[]) => {
      const limited = await options.rate.refusal(socket.id);
      // A monitor sends nothing: one that floods the hub is let go.
      if (limited) {
        socket.emit('error', limited.toBody());
        socket.disconnect(true);
        return;
      }
      reject(socket, new HubError('bad_request', `monitors are read-only: the hub accepts no "${event}" event here`), args);
    });
    void follow(socket, feed, socket.data.request as MonitorAuth, options).catch((error) => {
      options.onError(error, { what: 'a monitor could not be brought up to date' });
      socket.emit('error', new HubError('unavailable', `cannot read the snapshot: ${(error as Error).message}`).toBody());
      socket.disconnect(true);
    });
  });

  const stopResets = feed.onReset(() => {
    for (const socket of nsp.sockets.values()) socket.conn.close();
  });
  let lastBroadcastAt = Date.now();
  const stopBroadcast = feed.onBroadcast((entries) => {
    for (const name of [LIVE_ROOM, DELTA_ROOM]) {
      const room = nsp.adapter.rooms.get(name);
      if (!room || room.size === 0) continue;
      const form = { deltas: name === DELTA_ROOM };
      nsp.to(name).emit(
        'transitions',
        entries.map((entry) => feed.streamEntry(entry, form)),
      );
      for (const id of room) cutOffIfBehind(nsp.sockets.get(id), options.maxQueuedPackets);
    }
    lastBroadcastAt = Date.now();
  });
  // A monitor that hears nothing for a while cannot tell a quiet hub from a dead path: every
  // second without anything else, it gets a tick (the hub's time and log offset).
  const ticker = setInterval(() => {
    const now = Date.now();
    const tick = { time: feed.now(), offset: feed.delivered() };
    if (now - lastBroadcastAt >= TICK_MS) nsp.to([LIVE_ROOM, DELTA_ROOM]).emit('tick', tick);
    for (const socket of nsp.sockets.values()) {
      const sentAt = socket.data.sentAt as number | undefined;
      if (!socket.rooms.has(LIVE_ROOM) && !socket.rooms.has(DELTA_ROOM) && sentAt !== undefined && now - sentAt >= TICK_MS) sendTo(socket, 'tick', tick);
    }
  }, TICK_MS);
  ticker.unref();
  return () => {
    clearInterval(ticker);
    stopResets();
    stopBroadcast();
  };
}

async function follow(socket: Socket, feed: Feed, request: MonitorAuth, options: MonitorGatewayOptions): Promise<void> {
  // Filtered observers and those asking for events are sent to one by one; the rest share a room.
  const own = recordFilter(request.filter) !== undefined || request.events === true;
  const form = { deltas: request.deltas, events: request.events };
  const follower = own
    ? {
        push: (entries: LogEntry[]) => {
          sendTo(socket, 'transitions', entries.map((entry) => feed.streamEntry(entry, form)));
          cutOffIfBehind(socket, options.maxQueuedPackets);
        },
      }
    : undefined;
  // Replays and catch-ups are whole records, with events only for those who asked.
  const replayed = (entries: LogEntry[]) => entries.map((entry) => feed.streamEntry(entry, { events: request.events }));
  if (socket.disconnected) return;
  await feed.join(
    request,
    (initial, tail) => {
      if (socket.disconnected) return;
      // Written pre-encoded through the socket's own engine.io connection, so it stays in order
      // with the events around it; each record's text is made once and shared by every snapshot.
      if (initial.type === 'snapshot') socket.conn.write(encodeEventPacket(socket.nsp.name, 'snapshot', encodeSnapshot(initial.snapshot)));
      else emitInBatches(socket, replayed(initial.entries));
      emitInBatches(socket, replayed(tail));
      const offset = tail.at(-1)?.offset ?? (initial.type === 'snapshot' ? initial.snapshot.offset : initial.offset);
      // Tells the client it is caught up (a resume that missed nothing sends no other event).
      sendTo(socket, 'synced', { offset, via: initial.type, time: feed.now() });
      if (!own) void socket.join(request.deltas ? DELTA_ROOM : LIVE_ROOM);
    },
    follower,
  );
  if (follower) {
    if (socket.disconnected) feed.leave(follower);
    else socket.on('disconnect', () => feed.leave(follower));
  }
}

/** Emits to one socket, noting when (a filtered monitor is ticked only when nothing else went to it). */
function sendTo(socket: Socket, event: string, payload: unknown): void {
  socket.emit(event, payload);
  socket.data.sentAt = Date.now();
}

function emitInBatches(socket: Socket, entries: StreamEntry[]): void {
  for (let start = 0; start < entries.length; start += REPLAY_BATCH) {
    socket.emit('transitions', entries.slice(start, start + REPLAY_BATCH));
  }
}

/** Never lets one slow monitor grow the hub's memory: past the bound it is disconnected and resumes later. */
function cutOffIfBehind(socket: Socket | undefined, maxQueuedPackets: number): void {
  if (!socket || queuedPackets(socket) <= maxQueuedPackets) return;
  // Closing the transport (not the namespace) lets the client reconnect by itself, with `since`.
  // What is queued is dropped (`discard`): a plain close would wait for the queue to drain, which
  // a reader that stopped reading never does, and the connection would linger, queue and all.
  socket.conn.close(true);
}

/** Packets engine.io holds for a socket whose transport has not drained yet (not in its public types). */
function queuedPackets(socket: Socket): number {
  return (socket.conn as unknown as { writeBuffer: unknown[] }).writeBuffer.length;
}
