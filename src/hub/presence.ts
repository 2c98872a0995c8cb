/**
 * Worker and machine presence: registration, heartbeats, draining and disconnection drive the
 * worker actors; machines and the busy flag are derived from what each step changed.
 */
import type { JobEvent } from '../../machines/job.js';
import type { HostEvent } from '../../machines/machine.js';
import type { WorkerContext, WorkerEvent, WorkerLost, WorkerTimings } from '../../machines/worker.js';
import { HubError } from '../protocol/errors.js';
import type { ActorRecord, Kind } from '../protocol/record.js';
import type { Register } from '../protocol/worker.js';
import { leaseHolder } from '../store/job-index.js';
import type { ActorHost } from './actor-host.js';
import type { Transaction } from './transaction.js';

const ONLINE = new Set(['ready', 'busy', 'draining']);

export const isOnline = (worker: ActorRecord) => ONLINE.has(worker.state);

export const workerContext = (worker: ActorRecord) => worker.snapshot.context as unknown as WorkerContext;

export class Presence {
  constructor(
    private readonly host: ActorHost,
    private readonly timings: WorkerTimings,
  ) {
    host.provideEffect('workerLost', (tx, params, worker) => this.workerLost(tx, params as unknown as WorkerLost, worker));
    host.addBeforeCommit((tx) => this.countLeases(tx));
    host.addBeforeCommit((tx) => this.countMachineWorkers(tx));
  }

  /** Starts a worker session; the connectors' snapshots are recorded as the worker reports them. */
  async register(registration: Register, sessionId: string): Promise<ActorRecord> {
    const { value } = await this.host.run(async (tx) => {
      await this.checkIds(tx, registration);
      const machine = await tx.get(registration.machineId);
      if (!machine || machine.removed) await tx.create('machine', registration.machineId, { id: registration.machineId }, undefined, machine);
      const event: WorkerEvent = {
        type: 'REGISTER',
        sessionId,
        machineId: registration.machineId,
        capabilities: registration.capabilities,
        connectorIds: registration.connectors.map((connector) => connector.id),
      };
      const existing = await tx.get(registration.workerId);
      if (existing && !existing.removed && existing.parentId !== registration.machineId) {
        throw new HubError('conflict', `worker ${registration.workerId} belongs to machine ${existing.parentId}`);
      }
      const worker =
        existing && !existing.removed
          ? await tx.send(registration.workerId, event)
          : await tx.create('worker', registration.workerId, { id: registration.workerId, ...event, timings: this.timings }, registration.machineId, existing);
      for (const connector of registration.connectors) {
        await tx.put('connector', connector.id, registration.workerId, connector.snapshot);
      }
      return worker as ActorRecord;
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

  async disconnect(workerId: string, sessionId: string): Promise<void> {
    await this.host.run((tx) => tx.send(workerId, { type: 'DISCONNECT', sessionId } satisfies WorkerEvent));
  }

  /**
   * Takes an offline worker (with its connectors) or an offline machine (with its workers) out of
   * the live set: until then a monitor keeps showing them, greyed.
   */
  async remove(id: string): Promise<ActorRecord> {
    const { value } = await this.host.run(async (tx) => {
      const record = await tx.get(id);
      if (!record || record.removed) throw new HubError('not_found', `no actor ${id}`);
      if (record.kind !== 'worker' && record.kind !== 'machine') {
        throw new HubError('bad_request', `only workers and machines are removed by hand; ${id} is a ${record.kind}`);
      }
      if (record.state !== 'offline') {
        throw new HubError('conflict', `${record.kind} ${id} is ${record.state}: only offline workers and machines can be removed`, { state: record.state });
      }
      const workers = record.kind === 'machine' ? await tx.store.children(id) : [record];
      for (const worker of workers) {
        for (const connector of await tx.store.children(worker.id)) tx.remove(connector);
        if (worker !== record) tx.remove(worker);
      }
      return tx.remove(record);
    });
    return value;
  }

  /** Records a connector's new snapshot, if it belongs to this live session; false otherwise. */
  async connectorChanged(tx: Transaction, workerId: string, sessionId: string, connectorId: string, snapshot: ActorRecord['snapshot']): Promise<boolean> {
    const worker = await this.currentSession(tx, workerId, sessionId);
    if (!worker || !workerContext(worker).connectorIds.includes(connectorId)) return false;
    await tx.put('connector', connectorId, workerId, snapshot);
    return true;
  }

  /** The worker's record when `sessionId` is its live session. */
  private async currentSession(tx: Transaction, workerId: string, sessionId: string): Promise<ActorRecord | undefined> {
    const worker = await tx.get(workerId);
    if (!worker || worker.removed || worker.kind !== 'worker' || !isOnline(worker)) return undefined;
    return workerContext(worker).sessionId === sessionId ? worker : undefined;
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

  /** Brings each machine whose workers came or went this step up to date. */
  private async countMachineWorkers(tx: Transaction): Promise<void> {
    const machines = new Set<string>();
    for (const worker of tx.changed('worker')) {
      const before = tx.before.get(worker.id);
      if (!before || before.removed || worker.removed || isOnline(before) !== isOnline(worker)) machines.add(workerContext(worker).machineId);
    }
    for (const machineId of machines) {
      const workers = new Map((await tx.store.children(machineId)).map((worker) => [worker.id, worker]));
      for (const worker of tx.changed('worker')) {
        if (worker.parentId !== machineId) continue;
        if (worker.removed) workers.delete(worker.id);
        else workers.set(worker.id, worker);
      }
      const online = [...workers.values()].filter((worker) => worker.kind === 'worker' && isOnline(worker)).length;
      await tx.send(machineId, { type: 'WORKERS', online, total: workers.size } satisfies HostEvent);
    }
  }
}
