/**
 * Dispatch: gives each idle connector of a worker connected to this hub the best pending job of
 * its type (priority, then age) whose requirements it meets: its worker's capabilities, with the
 * connector's own (what its service offers, from its health checks) over them.
 *
 * Everything it knows comes from the log: a connector is free when its record is idle and no
 * job record names it as assigned or running. Claims are ordinary job transitions
 * (pending -> assigned), so two hubs racing for a job are settled by the store's seq check.
 *
 * The log is also how a job's work gets stopped (the job machine's `abortWork`): when a job
 * leaves a connector of a worker connected here without completing (cancelled, timed out, lease
 * lost), this hub tells that worker, whichever hub committed the change.
 */
import type { JobEvent } from '../../machines/job.js';
import type { Capabilities } from '../../machines/worker.js';
import type { ActorRecord, LogEntry } from '../protocol/record.js';
import { meetsRequirements } from '../protocol/requirements.js';
import type { Abort, Assignment } from '../protocol/worker.js';
import type { ActorHost } from './actor-host.js';
import { jobContext } from './jobs.js';
import { workerContext, type Registered } from './presence.js';
import type { ReportError } from './report-error.js';

/** The way to one connected worker. */
export interface WorkerLink {
  /** Jobs claimed for the worker's connectors, together. */
  assign(assignments: Assignment[]): void;
  abort(abort: Abort): void;
}

interface KnownWorker {
  /** Of the record this comes from: an older record (a registration's, read after the log) says nothing new. */
  seq: number;
  state: string;
  capabilities: Capabilities;
  link?: WorkerLink;
}

interface KnownConnector {
  /** Of the record this comes from, as for workers. */
  seq: number;
  type: string;
  workerId: string;
  state: string;
  /** The job assigned to or running on it (or being claimed for it). */
  jobId: string | null;
  /** What its service offers (its record's context), over its worker's capabilities. */
  capabilities: Capabilities;
  /** `capabilities` as text, made when its record comes: connectors alike share one query. */
  capabilitiesKey: string;
}

/** A job's hold on a connector, as of the job's record `seq`: older records of the job say nothing new. */
interface Hold {
  connectorId: string;
  seq: number;
}

const CANDIDATES = 16;
/** How often free connectors look at their queues again, whatever the log said. */
const SWEEP_MS = 1_000;

export class Dispatcher {
  private readonly workers = new Map<string, KnownWorker>();
  private readonly connectors = new Map<string, KnownConnector>();
  private readonly connectorsOf = new Map<string, Set<string>>();
  /** Idle connectors by type, free or not. */
  private readonly idle = new Map<string, Set<string>>();
  private readonly holds = new Map<string, Hold>();
  /** Types that may have a pending job and a free connector. */
  private readonly dirty = new Set<string>();
  private pumping: Promise<void> | undefined;
  private again = false;
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly host: ActorHost,
    private readonly onError: ReportError,
  ) {
    // A safety net for anything the log did not tell this hub (a store outage, a trimmed tail).
    this.sweeper = setInterval(() => this.sweep(), SWEEP_MS);
    this.sweeper.unref();
  }

  /** Stops sweeping; resolves once no dispatch pass is running. */
  async stop(): Promise<void> {
    clearInterval(this.sweeper);
    while (this.pumping) await this.pumping;
  }

  /** Looks at every queue a free connector could take from. */
  sweep(): void {
    for (const [type, ids] of this.idle) {
      for (const id of ids) {
        const connector = this.connectors.get(id);
        if (connector && this.isFree(connector)) {
          this.dirty.add(type);
          break;
        }
      }
    }
    if (this.dirty.size > 0) this.schedule();
  }

  /**
   * A worker registered here: its connectors may be given jobs through `link`. What it is, its
   * connectors and the jobs it holds are learnt from the registration itself, not only from the
   * log: a hub that just started has not seen them, and a worker resuming its session may change
   * no record at all.
   */
  attach({ worker, connectors, held }: Pick<Registered, 'worker' | 'connectors' | 'held'>, link: WorkerLink): void {
    this.observe([worker, ...connectors, ...held].map((record) => ({ offset: '', record })));
    this.worker(worker.id).link = link;
    this.markTypesOf(worker.id);
    this.schedule();
  }

  detach(workerId: string, link: WorkerLink): void {
    const worker = this.workers.get(workerId);
    if (worker?.link === link) delete worker.link;
  }

  /** Feeds committed changes in; called for every batch, in log order. */
  observe(entries: LogEntry[]): void {
    for (const { record } of entries) {
      if (record.kind === 'job') this.observeJob(record);
      else if (record.kind === 'connector') this.observeConnector(record);
      else if (record.kind === 'worker') this.observeWorker(record);
    }
    if (this.dirty.size > 0) this.schedule();
  }

  private observeJob(job: ActorRecord): void {
    const context = jobContext(job);
    const held = this.holds.get(job.id);
    if (held && job.seq < held.seq) return;
    const holdsNow = !job.removed && (job.state === 'assigned' || job.state === 'running') ? context.connectorId : null;
    if (held && held.connectorId !== holdsNow) this.release(job, held);
    if (holdsNow) this.hold(job.id, holdsNow, job.seq);
    if (job.state === 'pending' && !job.removed) this.dirty.add(context.type);
  }

  private hold(jobId: string, connectorId: string, seq: number): void {
    this.holds.set(jobId, { connectorId, seq });
    const connector = this.connectors.get(connectorId);
    if (connector) connector.jobId = jobId;
  }

  /** The job left its connector: the connector is free again, and unless the job completed, its work must stop. */
  private release(job: ActorRecord, held: Hold): void {
    this.holds.delete(job.id);
    const connector = this.connectors.get(held.connectorId);
    if (!connector || connector.jobId !== job.id) return;
    connector.jobId = null;
    this.dirty.add(connector.type);
    // A worker that reported the outcome itself ignores the abort of a job it no longer runs.
    if (job.state !== 'completed') this.workers.get(connector.workerId)?.link?.abort({ jobId: job.id, reason: `the job is ${job.state}` });
  }

  private observeConnector(record: ActorRecord): void {
    let connector = this.connectors.get(record.id);
    if (connector && record.seq <= connector.seq) return;
    if (connector && (record.removed || record.parentId !== connector.workerId)) {
      this.idle.get(connector.type)?.delete(record.id);
      this.connectorsOf.get(connector.workerId)?.delete(record.id);
      this.connectors.delete(record.id);
      connector = undefined;
    }
    if (record.removed) return;
    if (!connector) {
      const type = String(record.snapshot.context.type);
      connector = { seq: record.seq, type, workerId: record.parentId ?? '', state: record.state, jobId: null, capabilities: {}, capabilitiesKey: '{}' };
      this.connectors.set(record.id, connector);
      let ids = this.connectorsOf.get(connector.workerId);
      if (!ids) this.connectorsOf.set(connector.workerId, (ids = new Set()));
      ids.add(record.id);
    }
    connector.seq = record.seq;
    connector.state = record.state;
    connector.capabilities = connectorCapabilities(record);
    connector.capabilitiesKey = JSON.stringify(connector.capabilities);
    let idle = this.idle.get(connector.type);
    if (!idle) this.idle.set(connector.type, (idle = new Set()));
    if (record.state === 'idle') {
      idle.add(record.id);
      this.dirty.add(connector.type);
    } else {
      idle.delete(record.id);
    }
  }

  private observeWorker(record: ActorRecord): void {
    if (record.removed) {
      this.workers.delete(record.id);
      return;
    }
    const worker = this.worker(record.id);
    if (record.seq <= worker.seq) return;
    const wasOnline = worker.state === 'ready' || worker.state === 'busy';
    worker.seq = record.seq;
    worker.state = record.state;
    worker.capabilities = workerContext(record).capabilities;
    if (!wasOnline && (record.state === 'ready' || record.state === 'busy')) this.markTypesOf(record.id);
  }

  /** The worker's idle connectors may take jobs: look at their types' queues. */
  private markTypesOf(workerId: string): void {
    for (const id of this.connectorsOf.get(workerId) ?? []) {
      const connector = this.connectors.get(id);
      if (connector?.state === 'idle') this.dirty.add(connector.type);
    }
  }

  private worker(id: string): KnownWorker {
    let worker = this.workers.get(id);
    if (!worker) this.workers.set(id, (worker = { seq: 0, state: 'offline', capabilities: {} }));
    return worker;
  }

  /** A connector that may take a job now: idle, holding none, of an accepting worker connected here. */
  private isFree(connector: KnownConnector): boolean {
    if (connector.state !== 'idle' || connector.jobId !== null) return false;
    const worker = this.workers.get(connector.workerId);
    return worker?.link !== undefined && (worker.state === 'ready' || worker.state === 'busy');
  }

  private schedule(): void {
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = this.pump()
      .catch((error: unknown) => this.onError(error, { what: 'dispatch failed' }))
      .finally(() => {
        this.pumping = undefined;
        if (this.again) {
          this.again = false;
          this.schedule();
        }
      });
  }

  private async pump(): Promise<void> {
    // Let the commit that woke us finish delivering its batch first.
    await new Promise<void>((resolve) => setImmediate(resolve));
    while (this.dirty.size > 0) {
      const types = [...this.dirty];
      this.dirty.clear();
      for (const type of types) await this.fill(type);
    }
  }

  /**
   * Gives jobs of `type` to its free connectors until one side runs out: per worker and set of
   * connector capabilities (most often, per worker), one query and one commit.
   */
  private async fill(type: string): Promise<void> {
    const groups = new Map<string, { workerId: string; capabilities: Capabilities; connectorIds: string[] }>();
    for (const connectorId of this.idle.get(type) ?? []) {
      const connector = this.connectors.get(connectorId);
      if (!connector || !this.isFree(connector)) continue;
      const key = `${connector.workerId}\n${connector.capabilitiesKey}`;
      let group = groups.get(key);
      if (!group) groups.set(key, (group = { workerId: connector.workerId, capabilities: connector.capabilities, connectorIds: [] }));
      group.connectorIds.push(connectorId);
    }
    for (const { workerId, capabilities, connectorIds } of groups.values()) {
      // One worker's failed claim (a job whose record cannot be read...) does not keep jobs from the others.
      await this.fillWorker(type, workerId, capabilities, connectorIds).catch((error: unknown) =>
        this.onError(error, { what: `${type} jobs could not be given to worker ${workerId}`, workerId, type }),
      );
    }
  }

  /** Claims the best matching pending jobs for free connectors of one worker, one type and the same capabilities. */
  private async fillWorker(type: string, workerId: string, connectorCapabilities: Capabilities, connectorIds: string[]): Promise<void> {
    const worker = this.workers.get(workerId);
    if (!worker?.link) return;
    const capabilities = { ...worker.capabilities, ...connectorCapabilities };
    const accept = (requirements: Record<string, unknown>) => meetsRequirements(capabilities, requirements as Capabilities);
    for (let round = 0; round < 3; round++) {
      const free = connectorIds.filter((id) => {
        const connector = this.connectors.get(id);
        return connector !== undefined && this.isFree(connector);
      });
      if (free.length === 0) return;
      const candidates = await this.host.store.pendingJobs(type, accept, free.length + CANDIDATES);
      if (candidates.length === 0) return;
      const claimed = await this.claim(
        free.map((connectorId, index) => [connectorId, candidates[index]]).filter((pair): pair is [string, string] => pair[1] !== undefined),
        workerId,
      );
      // A link gone meanwhile is fine: the worker's disconnection revokes the leases.
      if (claimed.length > 0) worker.link?.assign(claimed.map(toAssignment));
      // Every candidate was taken by someone else (another hub): look again, a few times.
      if (claimed.length > 0 || candidates.length < free.length) return;
    }
  }

  /**
   * Moves pending jobs to `assigned` on their connectors, in one transaction. Each connector is held
   * before the commit (so no other pass gives it a second job while the log catches up) and let go
   * if its claim fails. Returns the jobs claimed.
   */
  private async claim(pairs: Array<[connectorId: string, jobId: string]>, workerId: string): Promise<ActorRecord[]> {
    const expected = new Map<string, number>();
    const letGo = (jobId: string) => {
      const seq = expected.get(jobId);
      expected.delete(jobId);
      const held = this.holds.get(jobId);
      if (seq === undefined || held?.seq !== seq) return;
      this.holds.delete(jobId);
      const connector = this.connectors.get(held.connectorId);
      if (connector?.jobId === jobId) connector.jobId = null;
    };
    try {
      const { value: claimed } = await this.host.run(async (tx) => {
        for (const jobId of [...expected.keys()]) letGo(jobId);
        const jobs: ActorRecord[] = [];
        for (const [connectorId, jobId] of pairs) {
          const pending = await tx.get(jobId);
          if (pending?.state !== 'pending') continue;
          expected.set(jobId, pending.seq + 1);
          this.hold(jobId, connectorId, pending.seq + 1);
          const next = await tx.send(jobId, { type: 'ASSIGN', workerId, connectorId } satisfies JobEvent);
          if (next?.state === 'assigned') jobs.push(next);
          else letGo(jobId);
        }
        return jobs;
      });
      const kept = new Set(claimed.map((job) => job.id));
      for (const jobId of [...expected.keys()]) if (!kept.has(jobId)) letGo(jobId);
      return claimed;
    } catch (error) {
      for (const jobId of [...expected.keys()]) letGo(jobId);
      throw error;
    }
  }
}

/** A connector record's capabilities; none for records from before connectors had them. */
function connectorCapabilities(record: ActorRecord): Capabilities {
  const capabilities = record.snapshot.context.capabilities;
  return capabilities !== null && typeof capabilities === 'object' && !Array.isArray(capabilities) ? (capabilities as Capabilities) : {};
}

/** What a worker is told about a job assigned to one of its connectors. */
export function toAssignment(job: ActorRecord): Assignment {
  const context = jobContext(job);
  return {
    jobId: job.id,
    connectorId: context.connectorId ?? '',
    type: context.type,
    payload: context.payload,
    attempt: context.attempts,
    maxAttempts: context.maxAttempts,
    timeoutMs: context.timeoutMs,
  };
}
