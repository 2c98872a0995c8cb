/**
 * `GET /metrics` (Prometheus text): one registry per hub, so several hubs can share a process.
 *
 * - Gauges counting actors come from the live set at scrape time (live-gauges.ts).
 * - Counters and duration histograms come from the changes this hub's log delivery hands out.
 *   Every hub on one store reads the one log, so every hub counts every change, whichever hub
 *   committed it: each hub's counters tell the whole system's story (aggregate hubs with `max`,
 *   never `sum`, which would count each change once per hub).
 * - Durations are read from the records' times (the store's clock, shared by every hub), never
 *   from this hub's own clock.
 */
import { Counter, Gauge, Histogram, collectDefaultMetrics, type Registry } from 'prom-client';
import type { JobContext } from '../../machines/job.js';
import { KINDS, stateSince, type ActorRecord, type LogEntry } from '../protocol/record.js';
import type { Store, LogStats } from '../store/store.js';
import { isFinal, jobContext } from './jobs.js';
import { registerLiveGauges } from './live-gauges.js';
import type { LiveSet, Transition } from './live-set.js';
import { ThroughputCounter, type Throughput } from './throughput.js';
import { typeLabels } from './type-labels.js';

/** Seconds: job waits and runs, from a no-op job (milliseconds) to an hour-long render. */
const JOB_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1_800, 3_600];
/** Seconds: from a change's commit to its fan-out (a memory store: under a millisecond). */
const LAG_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The `from` of an actor's first change (or its return after a removal), the `to` of its removal. */
const NONE = 'none';
const REMOVED = 'removed';

export class Metrics {
  readonly monitors: Gauge;
  readonly workerSockets: Gauge;
  private readonly changes: Counter<'kind'>;
  private readonly changesByKind: Map<string, Counter.Internal>;
  private readonly transitions: Counter<'kind' | 'from' | 'to'>;
  private readonly finished: Counter<'state' | 'type'>;
  private readonly retries: Counter<'type'>;
  private readonly failures: Counter<'type'>;
  private readonly waits: Histogram<'type'>;
  private readonly runs: Histogram<'type' | 'outcome'>;
  private readonly lag: Histogram;
  private readonly recent = new ThroughputCounter();
  private readonly typeLabel = typeLabels();
  /** Live jobs past the start of their first attempt (their wait is measured). */
  private readonly started = new Set<string>();

  constructor(
    private readonly registry: Registry,
    private readonly store: Store,
    live: LiveSet,
  ) {
    const registers = [registry];
    collectDefaultMetrics({ register: registry, prefix: 'statehub_process_' });
    this.monitors = new Gauge({ name: 'statehub_monitors', help: 'Observers connected to this hub (Socket.IO and SSE).', registers });
    this.workerSockets = new Gauge({ name: 'statehub_worker_connections', help: 'Worker connections to this hub.', registers });
    this.changes = new Counter({ name: 'statehub_changes_total', help: 'Record changes delivered from the log, by actor kind (every hub counts every change).', labelNames: ['kind'], registers });
    this.changesByKind = new Map(KINDS.map((kind) => [kind, this.changes.labels(kind)]));
    this.transitions = new Counter({
      name: 'statehub_transitions_total',
      help: `Changes of an actor's top-level state, by kind, from and to (from "${NONE}": the actor joined the live set; to "${REMOVED}": it left it).`,
      labelNames: ['kind', 'from', 'to'],
      registers,
    });
    this.finished = new Counter({ name: 'statehub_jobs_finished_total', help: 'Jobs that reached a final state, by state and type.', labelNames: ['state', 'type'], registers });
    this.retries = new Counter({ name: 'statehub_job_retries_total', help: 'Attempts that failed with another to come (the job went to retrying, or back to pending after a lost lease), by job type.', labelNames: ['type'], registers });
    this.failures = new Counter({
      name: 'statehub_job_failures_total',
      help: 'Attempts that failed (an error, a timeout, a lost lease), by job type: the retried ones and those that failed their job.',
      labelNames: ['type'],
      registers,
    });
    this.waits = new Histogram({ name: 'statehub_job_wait_seconds', help: 'From a job\'s submission to the start of its first attempt (pending to running), by type.', labelNames: ['type'], buckets: JOB_BUCKETS, registers });
    this.runs = new Histogram({
      name: 'statehub_job_run_seconds',
      help: 'How long an attempt ran (running to what followed it: completed, failed, retrying, pending after a lost lease, cancelled), by type and outcome.',
      labelNames: ['type', 'outcome'],
      buckets: JOB_BUCKETS,
      registers,
    });
    this.lag = new Histogram({ name: 'statehub_fanout_lag_seconds', help: 'From a change\'s commit (its updatedAt, the store\'s clock) to this hub handing it to its monitors.', buckets: LAG_BUCKETS, registers });
    this.registerLogGauges();
    registerLiveGauges(registry, live, this.typeLabel);
    live.listen({ change: (transition) => this.change(transition), reset: (records) => this.reset(records) });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  /** Jobs completed and failed over the last 15 minutes (`GET /api/throughput`). */
  throughput(now = this.store.now()): Throughput {
    return this.recent.read(now);
  }

  /** These changes were just handed to this hub's monitors. */
  fannedOut(entries: LogEntry[]): void {
    const now = this.store.now();
    for (const { record } of entries) this.lag.observe(Math.max(0, now - Date.parse(record.updatedAt)) / 1_000);
  }

  private change({ record, previous }: Transition): void {
    this.changesByKind.get(record.kind)?.inc();
    const from = previous?.state ?? NONE;
    const to = record.removed ? REMOVED : record.state;
    if (from !== to) this.transitions.inc({ kind: record.kind, from, to });
    if (record.kind !== 'job') return;
    if (record.removed || isFinal(record)) this.started.delete(record.id);
    if (!record.removed && from !== to) this.jobMoved(record, jobContext(record), previous);
  }

  /** A job entered a new state. */
  private jobMoved(record: ActorRecord, context: JobContext, previous: ActorRecord | undefined): void {
    const type = this.typeLabel(context.type);
    const at = Date.parse(stateSince(record));
    if (record.state === 'running' && !this.started.has(record.id)) {
      this.started.add(record.id);
      this.waits.observe({ type }, seconds(at - Date.parse(context.createdAt)));
    }
    if (previous?.state === 'running') this.runs.observe({ type, outcome: record.state }, seconds(at - Date.parse(stateSince(previous))));
    if (previous?.state === 'assigned' || previous?.state === 'running') {
      if (record.state === 'retrying' || record.state === 'pending') this.retries.inc({ type });
      if (record.state === 'retrying' || record.state === 'pending' || record.state === 'failed') this.failures.inc({ type });
    }
    if (isFinal(record)) {
      this.finished.inc({ state: record.state, type });
      if (record.state !== 'cancelled') this.recent.count(at, record.state === 'completed' ? 'completed' : 'failed');
    }
  }

  /**
   * The live set was read afresh: which jobs had started is not in their records, so a job
   * running, retrying or past its first attempt is taken as started (its wait is not measured).
   */
  private reset(records: Iterable<ActorRecord>): void {
    this.started.clear();
    for (const record of records) {
      if (record.kind !== 'job' || isFinal(record)) continue;
      if (record.state === 'running' || record.state === 'retrying' || jobContext(record).attempts > 1) this.started.add(record.id);
    }
  }

  /** The log's head position and length, read from the store at scrape time (one call for both gauges). */
  private registerLogGauges(): void {
    let reading: Promise<LogStats | undefined> | undefined;
    const read = () => {
      // Both gauges are collected at once: they share one call, and a store that does not answer leaves them out.
      reading ??= this.store
        .logStats()
        .catch(() => undefined)
        .finally(() => (reading = undefined));
      return reading;
    };
    const logGauge = (name: string, help: string, value: (stats: LogStats) => number | undefined) => {
      const gauge: Gauge = new Gauge({
        name,
        help,
        registers: [this.registry],
        async collect() {
          const stats = await read();
          const current = stats && value(stats);
          gauge.reset();
          if (current !== undefined) gauge.set(current);
        },
      });
    };
    logGauge('statehub_log_offset', 'Changes appended to the log since it began: the position of its head (the same on every hub of one store).', (stats) => stats.appended);
    logGauge('statehub_log_length', 'Changes the log holds now (what a monitor can resume from with `since`; the oldest go past the log limit).', (stats) => stats.length);
  }
}

function seconds(ms: number): number {
  return Math.max(0, ms) / 1_000;
}
