/**
 * Worker and machine presence: registration, heartbeats, draining and disconnection drive the
 * worker actors; machines and the busy flag are derived from what each step changed.
 */
import { randomUUID } from 'node:crypto';
import type { JobEvent } from '../../machines/job.js';
import type { HostEvent } from '../../machines/machine.js';
import type { WorkerContext, WorkerEvent, WorkerLost, WorkerTimings } from '../../machines/worker.js';
import { HubError } from '../protocol/errors.js';
import type { ActorRecord, ChangeEvent, Kind } from '../protocol/record.js';
import type { HeldJob, Register } from '../protocol/worker.js';
import { leaseHolder } from '../store/job-index.js';
import type { ActorHost } from './actor-host.js';
import { jobContext } from './jobs.js';
import type { Transaction } from './transaction.js';

/** The event recorded for a connector's snapshot as its worker's registration declares it. */
const REGISTER_EVENT: ChangeEvent = Object.freeze({ type: 'statehub.register' });

const ONLINE = new Set(['ready', 'busy', 'draining']);

export const isOnline = (worker: ActorRecord) => ONLINE.has(worker.state);

export const workerContext = (worker: ActorRecord) => worker.snapshot.context as unknown as WorkerContext;

/** What a registration opened or resumed. */
export interface Registered {
  worker: ActorRecord;
  sessionId: string;
  resumed: boolean;
  /** Jobs the worker said it holds that are not its any more. */
  revoked: string[];
  /** Jobs assigned to it whose assignment it never received: to be sent again. */
  reassigned: ActorRecord[];
  /** Every job it holds now (these included). */
  held: ActorRecord[];
  /** Its connectors' records as this registration left them. */
  connectors: ActorRecord[];
}

export class Presence {
  constructor(
    private readonly host: ActorHost,
    private readonly timings: WorkerTimings,
  ) {
    host.provideEffect('workerLost', (tx, params, worker) => this.workerLost(tx, params as unknown as WorkerLost, worker));
    host.addBeforeCommit((tx) => this.countLeases(tx));
    host.addBeforeCommit((tx) => this.countMachineWorkers(tx));
  }

  /**
   * Opens a worker session, or resumes the one named in `registration.resume` when the hub still
   * counts it (the worker is online with that session): then the worker keeps its state and the
   * leases of the jobs it says it holds. Either way the connectors' snapshots are recorded as the
   * worker reports them, and connectors it no longer declares leave the live set.
   *
   * Throws HubError `conflict` when an id belongs to another kind, or the worker id is online on
   * another machine; `bad_request` for ids used twice in the registration.
   */
  async register(registration: Register): Promise<Registered> {
    if (registration.connectorMachine) this.host.declare('connector', registration.connectorMachine);
    const { value } = await this.host.run(async (tx) => {
      await this.checkIds(tx, registration);
      const { workerId, machineId } = registration;
      const machine = await tx.get(machineId);
      if (!machine || machine.removed) await tx.create('machine', machineId, { id: machineId }, undefined, machine);
      const existing = await tx.get(workerId);
      const live = existing && !existing.removed ? existing : undefined;
      if (live && isOnline(live) && live.parentId !== machineId) {
        throw new HubError('conflict', `worker ${workerId} is ${live.state} on machine ${live.parentId}`);
      }
      const resumed = live !== undefined && isOnline(live) && registration.resume?.sessionId === workerContext(live).sessionId;
      const sessionId = resumed ? workerContext(live).sessionId : randomUUID();
      const event: WorkerEvent = {
        type: 'REGISTER',
        sessionId,
        machineId,
        capabilities: registration.capabilities,
        connectorIds: registration.connectors.map((connector) => connector.id),
      };
      // A worker that comes back on another machine starts over there.
      if (live?.parentId === machineId) await tx.send(workerId, event);
      else await tx.create('worker', workerId, { id: workerId, ...event, timings: this.timings }, machineId, existing);
      for (const connector of registration.connectors) await tx.put('connector', connector.id, workerId, connector.snapshot, REGISTER_EVENT, connector.version);
      await this.removeUndeclared(tx, workerId, new Set(event.connectorIds));
      if (registration.draining) await tx.send(workerId, { type: 'DRAIN' } satisfies WorkerEvent);
      const { revoked, reassigned, held } = await this.reconcileLeases(tx, workerId, registration.resume?.jobs ?? []);
      const connectors = tx.changed('connector').filter((connector) => connector.parentId === workerId && !connector.removed);
      return { worker: (await tx.get(workerId)) as ActorRecord, connectors, sessionId, resumed, revoked, reassigned, held };
    });
    return value;
  }

  /** Keeps the session alive; false when the hub no longer counts it (the worker should register again). */
  async heartbeat(tx: Transaction, workerId: string, sessionId: string): Promise<boolean> {
    if (!(await this.currentSession(tx, workerId, sessionId))) return false;
    await tx.send(workerId, { type: 'HEARTBEAT' } satisfies WorkerEvent);
    return true;
  }

  async drain(tx: Transaction, workerId: string, sessionId: string): Promise<boolean> {
    if (!(await this.currentSession(tx, workerId, sessionId))) return false;
    await tx.send(workerId, { type: 'DRAIN' } satisfies WorkerEvent);
    return true;
  }

  /** The worker closed its session on purpose: it goes offline now, its leases with it. */
  async leave(workerId: string, sessionId: string): Promise<void> {
    await this.host.run((tx) => tx.send(workerId, { type: 'LEAVE', sessionId } satisfies WorkerEvent));
  }

  /** Records a connector's new snapshot, if it belongs to this live session; false otherwise. */
  async connectorChanged(
    tx: Transaction,
    workerId: string,
    sessionId: string,
    connectorId: string,
    snapshot: ActorRecord['snapshot'],
    event?: ChangeEvent,
    version?: string,
  ): Promise<boolean> {
    const worker = await this.currentSession(tx, workerId, sessionId);
    if (!worker || !workerContext(worker).connectorIds.includes(connectorId)) return false;
    await tx.put('connector', connectorId, workerId, snapshot, event, version);
    return true;
  }

  /** The worker's record when `sessionId` is its live session. */
  private async currentSession(tx: Transaction, workerId: string, sessionId: string): Promise<ActorRecord | undefined> {
    const worker = await tx.get(workerId);
    if (!worker || worker.removed || worker.kind !== 'worker' || !isOnline(worker)) return undefined;
    return workerContext(worker).sessionId === sessionId ? worker : undefined;
  }

  /** Connectors of the worker that its registration no longer declares leave the live set. */
  private async removeUndeclared(tx: Transaction, workerId: string, declared: Set<string>): Promise<void> {
    for (const child of await tx.store.children(workerId)) {
      if (child.kind !== 'connector' || declared.has(child.id)) continue;
      const current = await tx.get(child.id);
      if (current && !current.removed && current.parentId === workerId) tx.remove(current);
    }
  }

  /**
   * Squares the jobs a registering worker says it holds with the leases the hub gave it. A job
   * leased to it and held: kept. Held but not (or no longer) leased to it on that connector:
   * revoked, the worker stops it. Leased but not held: an assignment the worker never received
   * is sent again; a running job it no longer has loses its lease.
   */
  private async reconcileLeases(tx: Transaction, workerId: string, reported: HeldJob[]): Promise<Pick<Registered, 'revoked' | 'reassigned' | 'held'>> {
    const leased = await this.leases(tx, workerId);
    const holds = new Map(reported.map((job) => [job.jobId, job.connectorId]));
    const revoked: string[] = [];
    for (const [jobId, connectorId] of holds) {
      const job = leased.has(jobId) ? await tx.get(jobId) : undefined;
      if (!job || jobContext(job).connectorId !== connectorId) revoked.push(jobId);
    }
    const reassigned: ActorRecord[] = [];
    const held: ActorRecord[] = [];
    for (const jobId of leased) {
      const job = await tx.get(jobId);
      if (!job) continue;
      if (holds.has(jobId) && !revoked.includes(jobId)) {
        held.push(job);
      } else if (job.state === 'assigned') {
        reassigned.push(job);
        held.push(job);
      } else {
        await tx.send(jobId, { type: 'LEASE_LOST', reason: `worker ${workerId} no longer ran it when it reconnected` } satisfies JobEvent);
      }
    }
    return { revoked, reassigned, held };
  }

  /** Ids are unique across kinds, and a connector belongs to one worker at a time. */
  private async checkIds(tx: Transaction, registration: Register): Promise<void> {
    const claim = async (id: string, kind: Kind) => {
      const record = await tx.get(id);
      if (record && !record.removed && record.kind !== kind) {
        throw new HubError('conflict', `id ${id} is already used by a ${record.kind}`);
      }
      return record;
    };
    if (registration.workerId === registration.machineId) {
      throw new HubError('bad_request', 'a worker id must differ from its machine id');
    }
    await claim(registration.workerId, 'worker');
    await claim(registration.machineId, 'machine');
    const seen = new Set<string>();
    for (const { id } of registration.connectors) {
      if (seen.has(id) || id === registration.workerId || id === registration.machineId) {
        throw new HubError('bad_request', `connector id ${id} is used twice in this registration`);
      }
      seen.add(id);
      const connector = await claim(id, 'connector');
      if (connector?.parentId !== undefined && connector.parentId !== registration.workerId && !connector.removed) {
        const owner = await tx.get(connector.parentId);
        if (owner && isOnline(owner)) throw new HubError('conflict', `connector ${id} belongs to worker ${owner.id}, which is online`);
      }
    }
  }

  /** The `workerLost` effect: the worker's jobs lose their lease and its connectors go offline, in the same step. */
  private async workerLost(tx: Transaction, lost: WorkerLost, worker: ActorRecord): Promise<void> {
    const reason = worker.state === 'ready' ? `worker ${lost.workerId} started a new session` : `worker ${lost.workerId} is ${worker.state}`;
    for (const jobId of await this.leases(tx, lost.workerId)) {
      await tx.send(jobId, { type: 'LEASE_LOST', reason } satisfies JobEvent);
    }
    for (const connectorId of lost.connectorIds) {
      const connector = await tx.get(connectorId);
      // A connector its worker stopped on purpose keeps saying so.
      if (connector?.parentId === lost.workerId && connector.state !== 'offline' && connector.state !== 'stopped') {
        await tx.send(connectorId, { type: 'WORKER_LOST' });
      }
    }
  }

  /** Jobs the worker holds, as this transaction sees them. */
  private async leases(tx: Transaction, workerId: string): Promise<Set<string>> {
    return this.withStaged(tx, workerId, await tx.store.leasesOf(workerId));
  }

  /** The committed leases of a worker, updated by the jobs this transaction changed. */
  private withStaged(tx: Transaction, workerId: string, committed: string[]): Set<string> {
    const held = new Set(committed);
    for (const job of tx.changed('job')) {
      if (leaseHolder(job) === workerId) held.add(job.id);
      else held.delete(job.id);
    }
    return held;
  }

  /** Tells each worker whose leases this step changed how many it holds now (ready <-> busy). */
  private async countLeases(tx: Transaction): Promise<void> {
    const workers = new Set<string>();
    for (const job of tx.changed('job')) {
      const before = tx.before.get(job.id);
      const holderBefore = before && leaseHolder(before);
      const holderNow = leaseHolder(job);
      if (holderBefore === holderNow) continue;
      if (holderBefore !== undefined) workers.add(holderBefore);
      if (holderNow !== undefined) workers.add(holderNow);
    }
    for (const workerId of workers) {
      const committed = await tx.store.leasesOf(workerId);
      const count = this.withStaged(tx, workerId, committed).size;
      // Only going from none to some (or back) moves the worker between ready and busy.
      if ((committed.length > 0) !== (count > 0)) await tx.send(workerId, { type: 'LEASES', count } satisfies WorkerEvent);
    }
  }

  /** Brings each machine whose workers came, went or moved this step up to date. */
  private async countMachineWorkers(tx: Transaction): Promise<void> {
    const machines = new Set<string>();
    for (const worker of tx.changed('worker')) {
      const before = tx.before.get(worker.id);
      if (!before || before.removed || worker.removed || isOnline(before) !== isOnline(worker) || before.parentId !== worker.parentId) {
        if (worker.parentId !== undefined) machines.add(worker.parentId);
        if (before?.parentId !== undefined && !before.removed) machines.add(before.parentId);
      }
    }
    for (const machineId of machines) {
      const workers = new Map((await tx.store.children(machineId)).map((worker) => [worker.id, worker]));
      for (const worker of tx.changed('worker')) {
        if (worker.parentId === machineId && !worker.removed) workers.set(worker.id, worker);
        else workers.delete(worker.id);
      }
      const online = [...workers.values()].filter((worker) => worker.kind === 'worker' && isOnline(worker)).length;
      await tx.send(machineId, { type: 'WORKERS', online, total: workers.size } satisfies HostEvent);
    }
  }
}
