/**
 * `GET /api/events`: the monitor stream as Server-Sent Events, for clients without Socket.IO.
 * A `snapshot` event (id: its offset) unless `since` (or `Last-Event-ID`) can be replayed,
 * then one `transition` event per change with `id:` set to its offset, so a reconnecting
 * EventSource resumes where it stopped.
 */
import type { ServerResponse } from 'node:http';
import type { LogEntry } from '../protocol/record.js';
import { encodeEntry, encodeSnapshot } from '../protocol/encoding.js';
import type { Feed, JoinRequest } from './feed.js';

const KEEPALIVE_MS = 15_000;

// One encoding per record, shared by every SSE client (and the snapshots).
function transitionEvent(entry: LogEntry): string {
  return `id: ${entry.offset}\nevent: transition\ndata: ${encodeEntry(entry)}\n\n`;
}

/** `maxBufferedBytes`: a client whose unsent bytes exceed this is disconnected; it resumes from its last event id. */
export async function streamEvents(response: ServerResponse, feed: Feed, request: JoinRequest, maxBufferedBytes: number): Promise<void> {
  response.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  response.write(': statehub events\n\n');
  const write = (entries: LogEntry[]) => {
    if (response.destroyed) return;
    response.write(entries.map(transitionEvent).join(''));
    if (response.writableLength > maxBufferedBytes) response.destroy();
  };
  const follower = { push: write };
  const keepalive = setInterval(() => response.write(': keepalive\n\n'), KEEPALIVE_MS);
  // Missed changes: end the stream; EventSource comes back with Last-Event-ID and gets a snapshot.
  const stopReset = feed.onReset(() => response.destroy());
  response.on('close', () => {
    clearInterval(keepalive);
    stopReset();
    feed.leave(follower);
  });
  await feed.join(
    request,
    (initial, tail) => {
      if (initial.type === 'snapshot') {
        response.write(`id: ${initial.snapshot.offset}\nevent: snapshot\ndata: ${encodeSnapshot(initial.snapshot)}\n\n`);
      } else {
        write(initial.entries);
      }
      write(tail);
    },
    follower,
  );
  if (response.destroyed) feed.leave(follower);
}
