/**
 * A new monitor, timed from this (another) process: the first snapshot over HTTP, over the
 * Socket.IO /monitor namespace, and a resume with `since` after missing some changes.
 */
import { request } from 'node:http';
import { io } from 'socket.io-client';
import type { LogEntry, Snapshot } from '../../src/protocol/record.js';

export interface HttpSnapshotTiming {
  /** Request sent to the first byte of the answer: the hub reading and serializing it. */
  firstByteMs: number;
  /** Request sent to the last byte of the body. */
  bodyMs: number;
  /** bodyMs plus JSON.parse of the body here. */
  parsedMs: number;
  bytes: number;
  records: number;
}

/** GET /api/snapshot on a connection of its own (no keep-alive pool), to the full body. */
export function httpSnapshot(hubUrl: string, options: { parse?: boolean; timeoutMs?: number } = {}): Promise<HttpSnapshotTiming> {
  const { parse = true, timeoutMs = 120_000 } = options;
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let firstByte = 0;
    const chunks: Buffer[] = [];
    const req = request(new URL('/api/snapshot', hubUrl), { agent: false, headers: { accept: 'application/json' } }, (res) => {
      res.on('data', (chunk: Buffer) => {
        if (chunks.length === 0) firstByte = performance.now();
        chunks.push(chunk);
      });
      res.on('error', reject);
      res.on('end', () => {
        const bodyAt = performance.now();
        const body = Buffer.concat(chunks);
        if (res.statusCode !== 200) return reject(new Error(`GET /api/snapshot answered ${res.statusCode} after ${(bodyAt - started).toFixed(0)} ms: ${body.toString('utf8').slice(0, 300)}`));
        const records = parse ? (JSON.parse(body.toString('utf8')) as Snapshot).records.length : Number.NaN;
        const parsedAt = performance.now();
        resolve({ firstByteMs: firstByte - started, bodyMs: bodyAt - started, parsedMs: parsedAt - started, bytes: body.length, records });
      });
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`GET /api/snapshot took over ${timeoutMs / 1000} s`)));
    req.on('error', reject);
    req.end();
  });
}

/** Any GET, on a connection of its own: time to the full body, and its status. */
export function httpGet(hubUrl: string, path: string, timeoutMs = 120_000): Promise<{ ms: number; status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let bytes = 0;
    const req = request(new URL(path, hubUrl), { agent: false }, (res) => {
      res.on('data', (chunk: Buffer) => (bytes += chunk.length));
      res.on('error', reject);
      res.on('end', () => resolve({ ms: performance.now() - started, status: res.statusCode ?? 0, bytes }));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`GET ${path} took over ${timeoutMs / 1000} s`)));
    req.on('error', reject);
    req.end();
  });
}

export interface SocketTiming {
  via: 'snapshot' | 'replay';
  /** Connect to the `snapshot` event received and parsed (socket.io-client parses before emitting); 0 for a replay. */
  snapshotMs: number;
  /** Connect to `synced`: the monitor holds everything up to the hub's offset. */
  syncedMs: number;
  /** Socket.IO packet bytes received (the snapshot, the replayed `transitions`, `synced`). */
  bytes: number;
  records: number;
  transitions: number;
  offset: string;
}

/** A raw Socket.IO /monitor client (no HTTP first snapshot): connect, optionally with `since`, until `synced`. */
export function socketMonitor(hubUrl: string, since?: string, timeoutMs = 120_000): Promise<SocketTiming> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = io(new URL('/monitor', hubUrl).href, {
      transports: ['websocket'],
      forceNew: true,
      reconnection: false,
      auth: since === undefined ? {} : { since },
    });
    // Packet texts as received; measured after the clock stops, so counting costs nothing here.
    const received: Array<string | Buffer | ArrayBuffer> = [];
    socket.io.engine.on('data', (data: unknown) => received.push(data as string));
    let snapshotMs = 0;
    let records = 0;
    let transitions = 0;
    const finish = (error?: Error, value?: SocketTiming) => {
      clearTimeout(timer);
      socket.removeAllListeners();
      socket.close();
      if (error) reject(error);
      else resolve(value!);
    };
    const timer = setTimeout(() => finish(new Error(`no 'synced' within ${timeoutMs / 1000} s`)), timeoutMs);
    socket.on('snapshot', (snapshot: Snapshot) => {
      snapshotMs = performance.now() - started;
      records = snapshot.records.length;
    });
    socket.on('transitions', (entries: LogEntry[]) => (transitions += entries.length));
    socket.on('synced', ({ offset, via }: { offset: string; via: 'snapshot' | 'replay' }) => {
      const syncedMs = performance.now() - started;
      let bytes = 0;
      for (const data of received) bytes += typeof data === 'string' ? Buffer.byteLength(data) : data instanceof ArrayBuffer ? data.byteLength : data.length;
      finish(undefined, { via, snapshotMs, syncedMs, bytes, records, transitions, offset });
    });
    socket.on('connect_error', (error: Error & { data?: unknown }) => finish(new Error(`connect_error: ${error.message} ${JSON.stringify(error.data ?? '')}`)));
    socket.on('error', (body: unknown) => finish(new Error(`hub error: ${JSON.stringify(body)}`)));
    socket.on('disconnect', (reason: string) => finish(new Error(`disconnected before synced: ${reason}`)));
  });
}
