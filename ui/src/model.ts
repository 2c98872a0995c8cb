/**
 * The monitor's model of the hub: the View a Monitor keeps equal to the hub's snapshot, plus the
 * groupings and counts the pages show, kept up to date change by change. No framework here:
 * the Solid layer (store.ts) turns its notifications into signals, and tests drive it directly.
 */
import type { ConnectionState } from '../../src/client/monitor.js';
import type { View, ViewChange } from '../../src/client/view.js';
import type { ActorRecord, Kind } from '../../src/protocol/record.js';
import type { PresenceCounts } from './system.js';

export type Connection = ConnectionState | 'resynced';

/** What a Monitor offers the model; a recorded stream can offer the same. */
export interface MonitorSource {
  readonly view: View;
  readonly state: ConnectionState;
  readonly lastSync: 'snapshot' | 'replay' | undefined;
  readonly refusal: { code: string; message: string } | undefined;
  onState(listener: (state: ConnectionState) => void): () => void;
}

/** Parts of the model that changed in one notification. */
export type Topic = 'jobs' | 'topology' | 'probes' | 'webhooks' | 'connection';

export const JOB_STATES = ['pending', 'assigned', 'running', 'retrying', 'completed', 'failed', 'cancelled'] as const;
export type JobState = (typeof JOB_STATES)[number];

export interface WorkerGroup {
  worker: ActorRecord;
  connectors: ActorRecord[];
}

export interface MachineGroup {
  id: string;
  /** Undefined while only its workers are known (filtered views). */
  machine: ActorRecord | undefined;
  workers: WorkerGroup[];
}

export type JobSortKey = 'updatedAt' | 'createdAt' | 'priority' | 'state' | 'type' | 'progress';

export interface JobQuery {
  states?: readonly string[];
  type?: string;
  /** Part of a job id (case-insensitive). */
  search?: string;
  sort?: JobSortKey;
  descending?: boolean;
}

const TOPOLOGY: ReadonlySet<Kind> = new Set(['machine', 'worker', 'connector']);

export class HubModel {
  private readonly jobsById = new Map<string, ActorRecord>();
  private readonly counts = new Map<string, number>();
  private readonly types = new Map<string, number>();
  private readonly listeners = new Set<(topics: Set<Topic>) => void>();
  private everLive = false;
  private resynced = false;
  private jobsVersion = 0;
  private listCache: { version: number; key: string; list: ActorRecord[] } | undefined;
  private groupsCache: { version: number; groups: MachineGroup[] } | undefined;
  private presenceCache: { version: number; counts: PresenceCounts } | undefined;
  private topologyVersion = 0;
  private readonly stop: Array<() => void>;

  constructor(readonly source: MonitorSource) {
    this.stop = [
      source.view.subscribe((changes, reset) => this.apply(changes, reset)),
      source.onState((state) => {
        if (state === 'live') {
          this.resynced = this.everLive && source.lastSync === 'snapshot';
          this.everLive = true;
        }
        this.notify(new Set(['connection']));
      }),
    ];
    this.apply(
      [...source.view.records.values()].map((record) => ({ record, previous: undefined, offset: source.view.offset ?? '' })),
      true,
    );
  }

  /** live, connecting, reconnecting, refused, or resynced: live again, from a fresh snapshot after a drop. */
  get connection(): Connection {
    const state = this.source.state;
    return state === 'live' && this.resynced ? 'resynced' : state;
  }

  record(id: string): ActorRecord | undefined {
    return this.source.view.records.get(id);
  }

  /** Live jobs by state (every state present, zero when none). */
  jobCounts(): Record<JobState, number> {
    return Object.fromEntries(JOB_STATES.map((state) => [state, this.counts.get(state) ?? 0])) as Record<JobState, number>;
  }

  get jobTotal(): number {
    return this.jobsById.size;
  }

  /** Job types seen among live jobs, sorted. */
  jobTypes(): string[] {
    return [...this.types.keys()].sort();
  }

  /** Live jobs matching `query`, sorted (default: most recently changed first). */
  jobs(query: JobQuery = {}): ActorRecord[] {
    const key = JSON.stringify(query);
    if (this.listCache?.version === this.jobsVersion && this.listCache.key === key) return this.listCache.list;
    const states = query.states && query.states.length > 0 ? new Set(query.states) : undefined;
    const search = query.search?.trim().toLowerCase();
    const list: ActorRecord[] = [];
    for (const job of this.jobsById.values()) {
      if (states && !states.has(job.state)) continue;
      if (query.type && jobField(job, 'type') !== query.type) continue;
      if (search && !job.id.toLowerCase().includes(search)) continue;
      list.push(job);
    }
    const sort = query.sort ?? 'updatedAt';
    const direction = (query.descending ?? sort !== 'type') ? -1 : 1;
    list.sort((a, b) => direction * compare(sortValue(a, sort), sortValue(b, sort)) || (a.id < b.id ? -1 : 1));
    this.listCache = { version: this.jobsVersion, key, list };
    return list;
  }

  /** Machines with their workers and each worker's connectors; offline ones stay until removed. */
  machines(): MachineGroup[] {
    if (this.groupsCache?.version === this.topologyVersion) return this.groupsCache.groups;
    const groups = new Map<string, MachineGroup>();
    const workers = new Map<string, WorkerGroup>();
    const group = (id: string) => {
      let found = groups.get(id);
      if (!found) groups.set(id, (found = { id, machine: undefined, workers: [] }));
      return found;
    };
    const records = [...this.source.view.records.values()];
    for (const record of records) if (record.kind === 'machine') group(record.id).machine = record;
    for (const record of records) {
      if (record.kind !== 'worker') continue;
      const worker: WorkerGroup = { worker: record, connectors: [] };
      workers.set(record.id, worker);
      group(record.parentId ?? '(no machine)').workers.push(worker);
    }
    for (const record of records) {
      if (record.kind === 'connector' && record.parentId) workers.get(record.parentId)?.connectors.push(record);
    }
    const byId = <T extends { id: string }>(a: T, b: T) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
    const sorted = [...groups.values()].sort(byId);
    for (const machine of sorted) {
      machine.workers.sort((a, b) => byId(a.worker, b.worker));
      for (const worker of machine.workers) worker.connectors.sort(byId);
    }
    this.groupsCache = { version: this.topologyVersion, groups: sorted };
    return sorted;
  }

  /** Live workers and machines by state. */
  presence(): PresenceCounts {
    if (this.presenceCache?.version === this.topologyVersion) return this.presenceCache.counts;
    const counts: PresenceCounts = { workers: {}, machines: {} };
    for (const record of this.source.view.records.values()) {
      const byState = record.kind === 'worker' ? counts.workers : record.kind === 'machine' ? counts.machines : undefined;
      if (byState) byState[record.state] = (byState[record.state] ?? 0) + 1;
    }
    this.presenceCache = { version: this.topologyVersion, counts };
    return counts;
  }

  probes(): ActorRecord[] {
    return this.ofKind('probe');
  }

  webhooks(): ActorRecord[] {
    return this.ofKind('webhook');
  }

  /** Calls `listener` after each batch of changes with the parts of the model they touched. */
  subscribe(listener: (topics: Set<Topic>) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    for (const stop of this.stop) stop();
    this.listeners.clear();
  }

  private apply(changes: ViewChange[], reset: boolean): void {
    const topics = new Set<Topic>();
    if (reset) {
      this.jobsById.clear();
      this.counts.clear();
      this.types.clear();
      topics.add('jobs').add('topology').add('probes').add('webhooks');
    }
    for (const { record } of changes) {
      if (record.kind === 'job') {
        this.applyJob(record);
        topics.add('jobs');
      } else if (TOPOLOGY.has(record.kind)) {
        topics.add('topology');
      } else if (record.kind === 'webhook') {
        topics.add('webhooks');
      } else {
        topics.add('probes');
      }
    }
    if (topics.has('jobs')) this.jobsVersion += 1;
    if (topics.has('topology')) this.topologyVersion += 1;
    if (topics.size > 0) this.notify(topics);
  }

  private ofKind(kind: Kind): ActorRecord[] {
    return [...this.source.view.records.values()].filter((record) => record.kind === kind).sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  private applyJob(record: ActorRecord): void {
    const before = this.jobsById.get(record.id);
    if (before) {
      bump(this.counts, before.state, -1);
      bump(this.types, jobField(before, 'type') as string, -1);
    }
    if (record.removed) {
      this.jobsById.delete(record.id);
      return;
    }
    this.jobsById.set(record.id, record);
    bump(this.counts, record.state, 1);
    bump(this.types, jobField(record, 'type') as string, 1);
  }

  private notify(topics: Set<Topic>): void {
    for (const listener of this.listeners) listener(topics);
  }
}

/** A field of a job's context. */
export function jobField(job: ActorRecord, field: string): unknown {
  return job.snapshot.context[field];
}

function sortValue(job: ActorRecord, key: JobSortKey): string | number {
  switch (key) {
    case 'updatedAt':
      return job.updatedAt;
    case 'state':
      return job.state;
    default:
      return jobField(job, key) as string | number;
  }
}

function compare(a: string | number, b: string | number): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function bump(counts: Map<string, number>, key: string, by: number): void {
  const next = (counts.get(key) ?? 0) + by;
  if (next === 0) counts.delete(key);
  else counts.set(key, next);
}
