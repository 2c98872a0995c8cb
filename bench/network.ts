/**
 * Network: the bytes a monitor receives over a fixed workload, against clients polling
 * GET /api/snapshot every 1 s and every 2 s during the same workload, side by side.
 *
 * - Workload (a child process, bench/lib/network-workload.ts): a hub on the memory store with
 *   2 machines x 2 workers x 2 `simulation` connectors (the real worker SDK), starting in the
 *   steady state of this workload (the finished jobs retention keeps for 5 minutes), and 3
 *   simulation jobs/s submitted over HTTP, payload { durationMs: 1,000-3,000, steps: 5-10 }.
 * - Monitor: what `Monitor` (and so the UI) does: its first snapshot from GET /api/snapshot
 *   (gzip accepted, as browsers and fetch() do), then socket.io-client on /monitor from that
 *   offset (`since`) with `deltas: true`, connected for the whole window; the snapshot counts.
 * - Pollers: plain HTTP GETs on a keep-alive connection, one per interval.
 * - Every client's bytes are counted at the wire: what its TCP connections read (headers, WebSocket
 *   upgrade, frame headers and pings included).
 *
 * Full: 5 minutes; quick: 1 minute.
 */
import { get } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { io } from 'socket.io-client';
import { applyDelta, type StreamEntry } from '../src/protocol/delta.js';
import type { ActorRecord, Snapshot } from '../src/protocol/record.js';
import { startChild } from './lib/children.js';
import type { StartRequest, WorkloadReport } from './lib/network-workload.js';
import { table } from './lib/stats.js';
import { CountingAgent } from './lib/wire-bytes.js';

const WORKLOAD = new URL('./lib/network-workload.ts', import.meta.url);
const JOBS_PER_SECOND = 3;
const GOAL_REDUCTION_VS_1S = 0.97;

interface PollResult {
  interval_s: number;
  polls: number;
  /** Everything the poller's connections read. */
  bytes: number;
  body_bytes: number;
  first_body_bytes: number;
  last_body_bytes: number;
  /** Status line and headers per response (wire bytes minus bodies, per poll). */
  header_bytes_per_poll: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

function fetchBody(url: string, agent: CountingAgent): Promise<number> {
  return new Promise((resolve, reject) => {
    get(url, { agent }, (response) => {
      let bytes = 0;
      response.on('data', (chunk: Buffer) => (bytes += chunk.length));
      response.on('end', () => (response.statusCode === 200 ? resolve(bytes) : reject(new Error(`GET ${url}: ${response.statusCode}`))));
      response.on('error', reject);
    }).on('error', reject);
  });
}

/** A monitor's first snapshot, as `Monitor` reads it (gzip accepted). */
function fetchSnapshot(hubUrl: string, agent: CountingAgent): Promise<Snapshot> {
  return new Promise((resolve, reject) => {
    get(`${hubUrl}/api/snapshot`, { agent, headers: { 'accept-encoding': 'gzip' } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        if (response.statusCode !== 200) return reject(new Error(`GET /api/snapshot: ${response.statusCode}`));
        const body = Buffer.concat(chunks);
        resolve(JSON.parse((response.headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body).toString('utf8')) as Snapshot);
      });
      response.on('error', reject);
    }).on('error', reject);
  });
}

/** GET /api/snapshot at startedAt + k x interval, for as long as the window lasts. */
async function poll(hubUrl: string, intervalMs: number, startedAt: number, durationMs: number): Promise<PollResult> {
  const agent = new CountingAgent({ keepAlive: true, maxSockets: 1 });
  const sizes: number[] = [];
  try {
    for (let k = 0; startedAt + k * intervalMs < startedAt + durationMs; k++) {
      await sleep(startedAt + k * intervalMs - performance.now());
      sizes.push(await fetchBody(`${hubUrl}/api/snapshot`, agent));
    }
    const body = sizes.reduce((a, b) => a + b, 0);
    const bytes = agent.bytesRead;
    return {
      interval_s: intervalMs / 1000,
      polls: sizes.length,
      bytes,
      body_bytes: body,
      first_body_bytes: sizes[0] ?? 0,
      last_body_bytes: sizes.at(-1) ?? 0,
      header_bytes_per_poll: sizes.length > 0 ? (bytes - body) / sizes.length : 0,
    };
  } finally {
    agent.destroy();
  }
}

/** `durationS` overrides the window (for trying the bench out). */
export async function run(options: { quick: boolean; durationS?: number }): Promise<Record<string, unknown>> {
  const durationMs = (options.durationS ?? (options.quick ? 60 : 300)) * 1000;
  const workload = await startChild(WORKLOAD, [String(JOBS_PER_SECOND)]);
  const agent = new CountingAgent();
  let socket: ReturnType<typeof io> | undefined;
  try {
    const hubUrl = workload.hello.url as string;
    const seeded = workload.hello.seeded as number;

    // What the monitor was sent, by kind and state, from the decoded payloads (JSON bytes).
    const payload = { snapshotBytes: 0, snapshotRecords: 0, messages: 0, changes: 0, deltas: 0, transitionBytes: 0 };
    const byKindState = new Map<string, { changes: number; bytes: number }>();
    let disconnects = 0;
    const startedAt = performance.now();
    // The monitor keeps the records, to name what each change (a delta) was.
    const held = new Map<string, ActorRecord>();
    const took = (snapshot: Snapshot) => {
      payload.snapshotBytes += Buffer.byteLength(JSON.stringify(snapshot));
      payload.snapshotRecords += snapshot.records.length;
      for (const record of snapshot.records) held.set(record.id, record);
    };
    const first = await fetchSnapshot(hubUrl, agent);
    const snapshotWireBytes = agent.bytesRead;
    took(first);
    socket = io(new URL('/monitor', hubUrl).href, { transports: ['websocket'], forceNew: true, agent: agent as unknown as string, auth: { deltas: true, since: first.offset } });
    socket.on('snapshot', took);
    socket.on('transitions', (entries: StreamEntry[]) => {
      payload.messages += 1;
      for (const entry of entries) {
        const bytes = Buffer.byteLength(JSON.stringify(entry));
        const record = 'record' in entry ? entry.record : applyDelta(held.get(entry.delta.id), entry);
        held.set(record.id, record);
        if ('delta' in entry) payload.deltas += 1;
        payload.changes += 1;
        payload.transitionBytes += bytes;
        const key = `${record.kind} ${record.removed ? 'removed' : record.state}`;
        const row = byKindState.get(key) ?? { changes: 0, bytes: 0 };
        row.changes += 1;
        row.bytes += bytes;
        byKindState.set(key, row);
      }
    });
    socket.on('disconnect', () => (disconnects += 1));
    const pollers = Promise.all([poll(hubUrl, 1_000, startedAt, durationMs), poll(hubUrl, 2_000, startedAt, durationMs)]);
    await workload.request('start', { rate: JOBS_PER_SECOND, seed: 42 } satisfies StartRequest);

    await sleep(startedAt + durationMs - performance.now());
    const monitorBytes = agent.bytesRead;
    const monitorSent = agent.bytesWritten;
    socket.close();
    const [poll1, poll2] = await pollers;
    // A monitor that never got in would make any figure meaningless.
    if (payload.snapshotRecords === 0 || payload.changes === 0) throw new Error(`the monitor received ${payload.snapshotRecords} snapshot records and ${payload.changes} changes: it did not follow the hub`);
    const report = await workload.request<WorkloadReport>('finish');
    const durationS = durationMs / 1000;

    const reduction1 = 1 - monitorBytes / poll1.bytes;
    const reduction2 = 1 - monitorBytes / poll2.bytes;
    console.log(
      `\nbytes received over ${durationS} s: ${JOBS_PER_SECOND} jobs/s on 2 machines x 2 workers x 2 simulation connectors, ` +
        `hub in steady state (${seeded} finished jobs kept), ${report.submitted} jobs submitted, ${payload.changes.toLocaleString('en-US')} changes streamed (${payload.deltas.toLocaleString('en-US')} as deltas)\n`,
    );
    table(
      ['client', 'bytes received', 'KB/s', 'requests or messages', 'x monitor', 'monitor saves'],
      [
        ['monitor (snapshot over HTTP, then Socket.IO deltas)', monitorBytes, monitorBytes / durationS / 1000, payload.messages + 1, '1', '-'],
        ['poll GET /api/snapshot every 1 s', poll1.bytes, poll1.bytes / durationS / 1000, poll1.polls, (poll1.bytes / monitorBytes).toFixed(1), `${(reduction1 * 100).toFixed(1)}%`],
        ['poll GET /api/snapshot every 2 s', poll2.bytes, poll2.bytes / durationS / 1000, poll2.polls, (poll2.bytes / monitorBytes).toFixed(1), `${(reduction2 * 100).toFixed(1)}%`],
      ],
    );
    console.log(
      `\nsnapshot: ${(poll1.first_body_bytes / 1000).toFixed(0)} KB at the start, ${(poll1.last_body_bytes / 1000).toFixed(0)} KB at the end;` +
        ` monitor: ${(payload.snapshotBytes / 1000).toFixed(0)} KB first snapshot (${(snapshotWireBytes / 1000).toFixed(0)} KB gzipped at the wire) + ${(payload.transitionBytes / 1000).toFixed(0)} KB of changes (JSON),` +
        ` ${((monitorBytes - snapshotWireBytes - payload.transitionBytes) / 1000).toFixed(0)} KB of framing and pings`,
    );
    console.log(`reduction vs polling every 1 s: ${(reduction1 * 100).toFixed(1)}% (goal >= ${GOAL_REDUCTION_VS_1S * 100}%: ${reduction1 >= GOAL_REDUCTION_VS_1S ? 'met' : 'NOT met'}); every 2 s: ${(reduction2 * 100).toFixed(1)}%\n`);
    const breakdown = [...byKindState.entries()].sort((a, b) => b[1].bytes - a[1].bytes);
    table(
      ['monitor changes (kind, state)', 'changes', 'JSON bytes', 'bytes per change', 'share of change bytes'],
      breakdown.map(([key, row]) => [key, row.changes, row.bytes, row.bytes / row.changes, `${((row.bytes / payload.transitionBytes) * 100).toFixed(1)}%`]),
    );
    if (report.submitErrors > 0) console.log(`warning: ${report.submitErrors} submissions failed (${report.firstError})`);
    if (disconnects > 1) console.log(`warning: the monitor was disconnected ${disconnects - 1} time(s) during the window`);

    return {
      reduction_vs_poll_1s: reduction1,
      reduction_vs_poll_2s: reduction2,
      goal_reduction_vs_poll_1s: GOAL_REDUCTION_VS_1S,
      met: reduction1 >= GOAL_REDUCTION_VS_1S,
      monitor_bytes: monitorBytes,
      poll_1s_bytes: poll1.bytes,
      poll_2s_bytes: poll2.bytes,
      duration_s: durationS,
      monitor: {
        bytes_sent: monitorSent,
        connections: agent.connections,
        messages: payload.messages,
        changes: payload.changes,
        changes_as_deltas: payload.deltas,
        snapshot_json_bytes: payload.snapshotBytes,
        snapshot_wire_bytes: snapshotWireBytes,
        snapshot_records: payload.snapshotRecords,
        transitions_json_bytes: payload.transitionBytes,
        by_kind_state: Object.fromEntries(breakdown),
      },
      poll_1s: poll1,
      poll_2s: poll2,
      workload: {
        jobs_per_second: JOBS_PER_SECOND,
        payload: '{ durationMs: 1000-3000, steps: 5-10 }',
        machines: 2,
        workers_per_machine: 2,
        connectors_per_worker: 2,
        seeded_finished_jobs: seeded,
        ...report,
      },
    };
  } finally {
    socket?.close();
    agent.destroy();
    await workload.stop();
  }
}
