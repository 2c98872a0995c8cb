/**
 * The scale bench's actors, built with the real machines (as bench/ui.ts does): machines of 4
 * workers, each worker with 4 connectors, and pending jobs, committed through the store like the
 * hub commits them. Plus the changes a monitor misses while it is away: jobs assigned, started and
 * reporting progress (what a busy hub logs most).
 */
import { connectorMachine } from '../../machines/connector.js';
import { jobMachine } from '../../machines/job.js';
import { hostMachine } from '../../machines/machine.js';
import { workerMachine } from '../../machines/worker.js';
import { Stepper } from '../../src/hub/step.js';
import { topState, type ActorRecord, type Kind, type LogEntry } from '../../src/protocol/record.js';
import type { Store } from '../../src/store/store.js';

export const WORKERS_PER_MACHINE = 4;
export const CONNECTORS_PER_WORKER = 4;

export interface Steppers {
  job: Stepper;
  connector: Stepper;
  worker: Stepper;
  machine: Stepper;
}

export function newSteppers(): Steppers {
  return { job: new Stepper(jobMachine), connector: new Stepper(connectorMachine), worker: new Stepper(workerMachine), machine: new Stepper(hostMachine) };
}

/** How many actors `seedPopulation` writes for `workers` workers and `jobs` jobs. */
export function actorCount(workers: number, jobs: number): number {
  return Math.ceil(workers / WORKERS_PER_MACHINE) + workers * (1 + CONNECTORS_PER_WORKER) + jobs;
}

export const jobId = (index: number) => `job-${String(index).padStart(6, '0')}`;
export const workerIdOf = (index: number) => `machine-${Math.floor(index / WORKERS_PER_MACHINE)}-w${index % WORKERS_PER_MACHINE}`;

function record(kind: Kind, id: string, snapshot: ActorRecord['snapshot'], updatedAt: string, parentId?: string): ActorRecord {
  return { id, kind, ...(parentId ? { parentId } : {}), seq: 1, state: topState(snapshot.value), snapshot, updatedAt };
}

/** The population, lazily, in the order bench/ui.ts builds it (its records are the same). */
function* population(steppers: Steppers, workers: number, jobs: number): Generator<ActorRecord> {
  const now = new Date().toISOString();
  for (let w = 0; w < workers; w++) {
    const machineId = `machine-${Math.floor(w / WORKERS_PER_MACHINE)}`;
    if (w % WORKERS_PER_MACHINE === 0) {
      const { snapshot } = steppers.machine.initial({ id: machineId });
      yield record('machine', machineId, steppers.machine.next(snapshot, { type: 'WORKERS', online: 4, total: 4 }).snapshot, now);
    }
    const workerId = workerIdOf(w);
    const connectorIds = Array.from({ length: CONNECTORS_PER_WORKER }, (_, c) => `${workerId}/render-${c + 1}`);
    const input = { id: workerId, sessionId: 's', machineId, capabilities: { gpu: 1 }, connectorIds };
    yield record('worker', workerId, steppers.worker.initial(input).snapshot, now, machineId);
    for (const connectorId of connectorIds) yield record('connector', connectorId, steppers.connector.initial({ id: connectorId, type: 'render' }).snapshot, now, workerId);
  }
  for (let j = 0; j < jobs; j++) {
    const { snapshot } = steppers.job.initial({ type: j % 3 === 0 ? 'upscale' : 'render', payload: { prompt: `a picture ${j}`, steps: 20 }, priority: j % 5, createdAt: now });
    yield record('job', jobId(j), snapshot, now);
  }
}

/** Commits the population in chunks of `chunk` records; resolves with the last log entry. */
export async function seedPopulation(store: Store, steppers: Steppers, workers: number, jobs: number, chunk: number): Promise<{ actors: number; last: LogEntry | undefined }> {
  let batch: ActorRecord[] = [];
  let actors = 0;
  let last: LogEntry | undefined;
  for (const item of population(steppers, workers, jobs)) {
    batch.push(item);
    actors += 1;
    if (batch.length >= chunk) {
      last = (await store.commit({ records: batch })).at(-1) ?? last;
      batch = [];
    }
  }
  if (batch.length > 0) last = (await store.commit({ records: batch })).at(-1) ?? last;
  return { actors, last };
}

/** Per job taken: ASSIGN, START, then PROGRESS 10..80: ten changes to a live, unfinished job. */
const CHANGES_PER_JOB = 10;

/**
 * Commits exactly `count` job changes (in commits of `chunk` records), taking pending jobs from
 * `nextJob` on. Resolves with the last entry and the next unused job index.
 */
export async function commitChanges(
  store: Store,
  steppers: Steppers,
  options: { count: number; nextJob: number; jobs: number; workers: number; chunk: number },
): Promise<{ last: LogEntry | undefined; nextJob: number }> {
  let { nextJob } = options;
  let remaining = options.count;
  let batch: ActorRecord[] = [];
  let last: LogEntry | undefined;
  const flush = async () => {
    if (batch.length === 0) return;
    last = (await store.commit({ records: batch })).at(-1) ?? last;
    batch = [];
  };
  while (remaining > 0) {
    if (nextJob >= options.jobs) throw new Error(`no pending job left for ${remaining} more changes (${options.jobs} jobs)`);
    let current: ActorRecord | undefined = await store.get(jobId(nextJob));
    if (!current || current.state !== 'pending') throw new Error(`${jobId(nextJob)} is ${current?.state ?? 'missing'}, not pending`);
    const worker = nextJob % Math.max(1, options.workers);
    const workerId = workerIdOf(worker);
    const events = [
      { type: 'ASSIGN', workerId, connectorId: `${workerId}/render-${(nextJob % CONNECTORS_PER_WORKER) + 1}` },
      { type: 'START' },
      ...Array.from({ length: CHANGES_PER_JOB - 2 }, (_, step) => ({ type: 'PROGRESS', progress: (step + 1) * 10 })),
    ];
    for (const event of events.slice(0, remaining)) {
      const { snapshot }: { snapshot: ActorRecord['snapshot'] } = steppers.job.next(current.snapshot, event);
      current = { ...current, seq: current.seq + 1, state: topState(snapshot.value), snapshot, updatedAt: new Date().toISOString() };
      batch.push(current);
      remaining -= 1;
      if (batch.length >= options.chunk) await flush();
    }
    nextJob += 1;
  }
  await flush();
  return { last, nextJob };
}
