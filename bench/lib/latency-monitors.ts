/**
 * Latency bench, the observing side (a child process): COUNT monitor connections on the hub's
 * /monitor namespace, one WebSocket connection each.
 *
 * PROBES of them are full monitors (socket.io-client, `transports: ['websocket'], forceNew`):
 * they decode every `transitions` batch, apply it to a View and record, per change, now - the
 * record's commit time. The others are sinks (bench/lib/raw-sink.ts): WebSocket + Engine.IO +
 * Socket.IO handshakes done by hand, every frame read, every ping answered, nothing decoded. The
 * hub cannot tell them apart (same frames written, same pings); they stand in for browsers whose
 * decoding runs on their own machines, so this machine's CPU goes to the hub under test.
 * PROBES = COUNT makes every monitor a full one.
 *
 * Probes are spread over the join order (first and last included): a broadcast is written to the
 * room's sockets one after the other, and the last one waits for all the others.
 *
 *   node --import tsx bench/lib/latency-monitors.ts URL COUNT PROBES
 */
import { io, type Socket } from 'socket.io-client';
import { View } from '../../src/client/view.js';
import type { LogEntry, Snapshot } from '../../src/protocol/record.js';
import { failed, ready, serve, wallNow } from './children.js';
import { Histogram } from './histogram.js';
import type { Stamp } from './job-stream.js';
import { openSink, type Sink } from './raw-sink.js';

interface Observer {
  socket: Socket;
  view: View;
  /** Measured changes received, per cell (probes only). */
  received: Map<string, number>;
  disconnects: number;
}

export interface CellCounts {
  /** Per probe, the measured changes of the cell received so far. */
  received: number[];
}

export interface CellSamples {
  histogram: ReturnType<Histogram['toData']>;
  disconnects: number;
  /** Seq gaps or duplicates the probes' views saw (the contract says none). */
  problems: number;
  /** Event frames the sinks read, and their bytes at the wire, over the cell. */
  sinkEvents: number;
  sinkBytes: number;
}

async function main(): Promise<void> {
  const url = process.argv[2] as string;
  const count = Number(process.argv[3]);
  const probes = Math.min(count, Math.max(1, Number(process.argv[4] ?? count)));
  /** Added to every sample: the server's clock offset minus ours. */
  let correction = 0;
  const histograms = new Map<string, Histogram>();
  const observers: Observer[] = [];
  const sinks: Sink[] = [];
  // Probe positions in the join order, evenly spread, first and last included.
  const probeAt = new Set(Array.from({ length: probes }, (_, k) => (probes === 1 ? 0 : Math.round((k * (count - 1)) / (probes - 1)))));

  const open = (): Promise<Observer> =>
    new Promise((resolve, reject) => {
      const socket = io(new URL('/monitor', url).href, { transports: ['websocket'], forceNew: true, reconnectionDelay: 250, reconnectionDelayMax: 1_000 });
      const observer: Observer = { socket, view: new View(), received: new Map(), disconnects: 0 };
      socket.on('snapshot', (snapshot: Snapshot) => observer.view.applySnapshot(snapshot));
      socket.on('transitions', (entries: LogEntry[]) => {
        observer.view.applyTransitions(entries);
        const now = wallNow() + correction;
        for (const { record } of entries) {
          const stamp = record.snapshot.context as unknown as Stamp;
          if (stamp.bm !== 1) continue;
          let histogram = histograms.get(stamp.bc);
          if (!histogram) histograms.set(stamp.bc, (histogram = new Histogram()));
          histogram.record(now - stamp.t);
          observer.received.set(stamp.bc, (observer.received.get(stamp.bc) ?? 0) + 1);
        }
      });
      socket.once('synced', () => resolve(observer));
      socket.on('disconnect', () => (observer.disconnects += 1));
      socket.once('connect_error', (error) => reject(new Error(`monitor could not connect to ${url}: ${error.message}`)));
    });

  // In join order, a few at a time, as monitors join a live hub.
  for (let start = 0; start < count; start += 10) {
    const batch = Array.from({ length: Math.min(10, count - start) }, (_, k) => start + k);
    await Promise.all(
      batch.map(async (index) => {
        if (probeAt.has(index)) observers.push(await open());
        else sinks.push(await openSink(url, '/monitor'));
      }),
    );
  }
  let sinkMark = { events: 0, bytes: 0 };
  let sinksClosed = 0;
  const sinkTotals = () => sinks.reduce((sum, sink) => ({ events: sum.events + sink.events, bytes: sum.bytes + sink.bytesRead }), { events: 0, bytes: 0 });
  // Let the last ones take their snapshot and join the live room before anything is measured.
  await new Promise((resolve) => setTimeout(resolve, 500));

  serve(
    {
      calibrate: (request) => void (correction = request.correction as number),
      count: (request): CellCounts => ({ received: observers.map((observer) => observer.received.get(request.cell as string) ?? 0) }),
      collect: (request): CellSamples => {
        const cell = request.cell as string;
        const histogram = histograms.get(cell) ?? new Histogram();
        histograms.delete(cell);
        const closedNow = sinks.filter((sink) => sink.closed).length;
        const disconnects = observers.reduce((sum, observer) => sum + observer.disconnects, 0) + closedNow - sinksClosed;
        sinksClosed = closedNow;
        for (const observer of observers) observer.disconnects = 0;
        const problems = observers.reduce((sum, observer) => sum + observer.view.problems.length, 0);
        for (const observer of observers) observer.view.problems.length = 0;
        const totals = sinkTotals();
        const sinkEvents = totals.events - sinkMark.events;
        const sinkBytes = totals.bytes - sinkMark.bytes;
        sinkMark = totals;
        return { histogram: histogram.toData(), disconnects, problems, sinkEvents, sinkBytes };
      },
    },
    () => {
      for (const observer of observers) observer.socket.close();
      for (const sink of sinks) sink.close();
    },
  );
  ready({ monitors: observers.length + sinks.length, probes: observers.length });
}

main().catch(failed);
