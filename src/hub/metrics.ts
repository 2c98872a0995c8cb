/** Prometheus metrics for `/metrics`: one registry per hub, so several hubs can share a process. */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { LogEntry } from '../protocol/record.js';
import type { Store } from '../store/store.js';
import { isFinal, jobContext } from './jobs.js';

/** Jobs finished per time bucket, for the monitor's throughput chart. */
export interface Throughput {
  bucketMs: number;
  buckets: Array<{ at: string; completed: number; failed: number }>;
}

const BUCKET_MS = 10_000;
const BUCKETS = 90; // 15 minutes

export class Metrics {
  /** Bucket start (ms) -> [completed, failed], oldest first. */
  private readonly recent = new Map<number, [number, number]>();

  private readonly registry = new Registry();
  private readonly changes = new Counter({
    name: 'statehub_changes_total',
    help: 'Record changes committed to the log, by actor kind.',
    labelNames: ['kind'],
    registers: [this.registry],
  });
  private readonly finished = new Counter({
    name: 'statehub_jobs_finished_total',
    help: 'Jobs that reached a final state, by state and type.',
    labelNames: ['state', 'type'],
    registers: [this.registry],
  });
  readonly monitors = new Gauge({
    name: 'statehub_monitors',
    help: 'Observers connected to this hub (Socket.IO and SSE).',
    registers: [this.registry],
  });
  readonly workerSockets = new Gauge({
    name: 'statehub_worker_connections',
    help: 'Worker connections to this hub.',
    registers: [this.registry],
  });

  constructor(private readonly store: Store) {
    let countedAt = 0;
    collectDefaultMetrics({ register: this.registry, prefix: 'statehub_process_' });
    const actors = new Gauge({
      name: 'statehub_actors',
      help: 'Live actors by kind and state.',
      labelNames: ['kind', 'state'],
      registers: [this.registry],
      // Counted from the snapshot, so it can never drift from it; at most every 5 s, since at
      // 100,000 actors reading it is not free.
      collect: async () => {
        if (Date.now() - countedAt < 5_000) return;
        countedAt = Date.now();
        const counts = new Map<string, { kind: string; state: string; count: number }>();
        for (const record of (await store.snapshot()).records) {
          const key = `${record.kind} ${record.state}`;
          const counted = counts.get(key) ?? { kind: record.kind, state: record.state, count: 0 };
          counted.count += 1;
          counts.set(key, counted);
        }
        actors.reset();
        for (const { kind, state, count } of counts.values()) actors.set({ kind, state }, count);
      },
    });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  observe(entries: LogEntry[]): void {
    for (const { record } of entries) {
      this.changes.inc({ kind: record.kind });
      if (record.kind === 'job' && !record.removed && isFinal(record)) {
        this.finished.inc({ state: record.state, type: jobContext(record).type });
        if (record.state !== 'cancelled') this.count(Date.parse(record.updatedAt), record.state === 'completed' ? 0 : 1);
      }
    }
  }

  /** Jobs completed and failed over the last 15 minutes, in 10 s buckets (oldest first, empty ones included). */
  throughput(now = this.store.now()): Throughput {
    const last = Math.floor(now / BUCKET_MS) * BUCKET_MS;
    const buckets = [];
    for (let at = last - (BUCKETS - 1) * BUCKET_MS; at <= last; at += BUCKET_MS) {
      const [completed, failed] = this.recent.get(at) ?? [0, 0];
      buckets.push({ at: new Date(at).toISOString(), completed, failed });
    }
    return { bucketMs: BUCKET_MS, buckets };
  }

  private count(at: number, which: 0 | 1): void {
    const bucket = Math.floor(at / BUCKET_MS) * BUCKET_MS;
    let counts = this.recent.get(bucket);
    if (!counts) {
      this.recent.set(bucket, (counts = [0, 0]));
      for (const old of this.recent.keys()) {
        if (old > bucket - BUCKETS * BUCKET_MS) break;
        this.recent.delete(old);
      }
    }
    counts[which] += 1;
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }
}
