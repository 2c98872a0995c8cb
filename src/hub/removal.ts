/**
 * Taking an actor out of the live set by hand (`DELETE /api/actors/:id`): anything that is not
 * running work. Its record stays readable by id for the store's retention, and an actor that
 * comes back later (a worker registering again) goes on from its seq.
 *
 * What "not running work" means, kind by kind:
 * - job: finished (completed, failed, cancelled); an unfinished one must be cancelled first;
 * - connector: its worker is not online, or no longer declares it (an online worker would bring
 *   it straight back with its next report);
 * - worker: not online (stale or offline: it holds no leases); its connectors go with it;
 * - machine: none of its workers online; its workers and their connectors go with it;
 * - probe: unknown (no hub checks it: none running was given it). A hub given it brings it back
 *   when it starts.
 */
import { HubError } from '../protocol/errors.js';
import type { ActorRecord } from '../protocol/record.js';
import type { ActorHost } from './actor-host.js';
import { isFinal } from './jobs.js';
import { isOnline, workerContext } from './presence.js';
import type { Transaction } from './transaction.js';

/**
 * Removes `id` (and what belongs to it) in one step; returns its removal record.
 * Throws HubError `not_found` (unknown or already removed), `conflict` (409: it is running work,
 * or a hub checks it, with `details.state`) or `bad_request` (a webhook: its own route deletes
 * its secret with it).
 */
export async function removeActor(host: ActorHost, id: string): Promise<ActorRecord> {
  const { value } = await host.run(async (tx) => {
    const record = await tx.get(id);
    if (!record || record.removed) throw new HubError('not_found', `no actor ${id}`);
    if (record.kind === 'webhook') throw new HubError('bad_request', `delete webhook ${id} with DELETE /api/webhooks/${encodeURIComponent(id)}: its secret goes with it`);
    const busy = await whyBusy(tx, record);
    if (busy) throw new HubError('conflict', `${record.kind} ${id} ${busy}`, { state: record.state });
    for (const child of await belongings(tx, record)) tx.remove(child);
    return tx.remove(record);
  });
  return value;
}

/** Why the actor may not be removed now, or undefined when it may. */
async function whyBusy(tx: Transaction, record: ActorRecord): Promise<string | undefined> {
  switch (record.kind) {
    case 'job':
      return isFinal(record) ? undefined : `is ${record.state}: cancel it first`;
    case 'connector': {
      const worker = record.parentId === undefined ? undefined : await tx.get(record.parentId);
      const declared = worker && !worker.removed && isOnline(worker) && workerContext(worker).connectorIds.includes(record.id);
      return declared ? `belongs to worker ${worker.id}, which is ${worker.state} and runs it: stop that worker, or start it without this connector` : undefined;
    }
    case 'worker':
      return isOnline(record) ? `is ${record.state}: only a stale or offline worker can be removed` : undefined;
    case 'probe':
      return record.state === 'unknown' ? undefined : `is ${record.state}: a hub checks it (remove it from every hub's probes first)`;
    case 'machine': {
      const online = (await tx.store.children(record.id)).filter((worker) => worker.kind === 'worker' && isOnline(worker));
      return online.length > 0 ? `has ${online.length} online worker(s) (${online.map((worker) => worker.id).join(', ')})` : undefined;
    }
    default:
      return undefined;
  }
}

/** The live actors that leave with `record`: a worker's connectors; a machine's workers and theirs. */
async function belongings(tx: Transaction, record: ActorRecord): Promise<ActorRecord[]> {
  if (record.kind !== 'worker' && record.kind !== 'machine') return [];
  const workers = record.kind === 'machine' ? await tx.store.children(record.id) : [record];
  const leaving: ActorRecord[] = [];
  for (const worker of workers) {
    if (worker !== record) leaving.push(worker);
    leaving.push(...(await tx.store.children(worker.id)));
  }
  return leaving;
}
