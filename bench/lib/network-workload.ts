/**
 * Network bench, the workload (a child process): a hub on the memory store, 2 machines x 2
 * workers x 2 `simulation` connectors (the real worker SDK over real sockets), and, once asked,
 * a steady submission of simulation jobs over the HTTP API.
 *
 * The hub starts in steady state: it holds the finished jobs a hub running this workload keeps
 * in its live set (rate x keepFinishedMs of them, finished at times spread over that window,
 * so retention removes them as new ones finish). A hub that has just started, with an almost
 * empty snapshot, would flatter polling.
 *
 *   node --import tsx bench/lib/network-workload.ts
 */
import { jobMachine } from '../../machines/job.js';
import { startHub } from '../../src/hub/hub.js';
import { newJobId } from '../../src/hub/jobs.js';
import { RETENTION_DEFAULTS } from '../../src/hub/retention.js';
import { Stepper } from '../../src/hub/step.js';
import { toJobInput, type JobSubmission } from '../../src/protocol/jobs.js';
import { topState, type ActorRecord, type Kind } from '../../src/protocol/record.js';
import { createWorker, simulationConnector, type Worker } from '../../src/worker/index.js';
import { failed, ready, serve } from './children.js';

export interface StartRequest {
  /** Jobs submitted per second. */
  rate: number;
  seed: number;
}

export interface WorkloadReport {
  submitted: number;
  submitErrors: number;
  firstError?: string;
  /** Changes committed while submitting, by kind. */
  changes: Partial<Record<Kind, number>>;
  /** Jobs in the live set by state at the end. */
  jobs: Record<string, number>;
}

const MACHINES = 2;
const WORKERS_PER_MACHINE = 2;
const CONNECTORS_PER_WORKER = 2;

/** Deterministic jitter, so two runs submit the same jobs at the same pace. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export function simulationJob(next: () => number): JobSubmission {
  return { type: 'simulation', payload: { durationMs: 1_000 + Math.round(next() * 2_000), steps: 5 + Math.floor(next() * 6) } } as JobSubmission;
}

/** A job as it looks once a simulation connector completed it: the job machine's own steps. */
function finishedJob(stepper: Stepper, submission: JobSubmission, connectorIds: string[], finishedAt: number, next: () => number): ActorRecord {
  const { durationMs, steps } = submission.payload as { durationMs: number; steps: number };
  const createdAt = new Date(finishedAt - durationMs - 50).toISOString();
  const connectorId = connectorIds[Math.floor(next() * connectorIds.length)] as string;
  const workerId = connectorId.slice(0, connectorId.indexOf('/'));
  let { snapshot } = stepper.initial(toJobInput(submission, createdAt));
  snapshot = stepper.next(snapshot, { type: 'ASSIGN', workerId, connectorId }).snapshot;
  snapshot = stepper.next(snapshot, { type: 'START' }).snapshot;
  for (let step = 1; step <= steps; step++) snapshot = stepper.next(snapshot, { type: 'PROGRESS', progress: Math.round((step / steps) * 100) }).snapshot;
  snapshot = stepper.next(snapshot, { type: 'COMPLETE', result: { attempt: 1, steps, durationMs: durationMs + 2 } }).snapshot;
  return { id: newJobId(finishedAt), kind: 'job', seq: 1, state: topState(snapshot.value), snapshot, updatedAt: new Date(finishedAt).toISOString() };
}

async function main(): Promise<void> {
  const seededRate = Number(process.argv[2] ?? 3);
  const keepFinishedMs = RETENTION_DEFAULTS.keepFinishedMs;
  const hub = await startHub({ port: 0, logger: false, retention: { keepFinishedMs } });
  const workers: Worker[] = [];
  for (let m = 1; m <= MACHINES; m++) {
    for (let w = 1; w <= WORKERS_PER_MACHINE; w++) {
      const machineId = `machine-${m}`;
      workers.push(
        createWorker({
          hub: hub.url,
          machineId,
          id: `${machineId}-worker-${w}`,
          capabilities: { gpu: 1 },
          connectors: Array.from({ length: CONNECTORS_PER_WORKER }, () => simulationConnector()),
        }),
      );
    }
  }
  await Promise.all(workers.map((worker) => worker.ready()));

  // Steady state: the finished jobs this workload leaves in the live set, oldest first.
  const connectorIds = workers.flatMap((worker) => [...worker.connectors.keys()]);
  const stepper = new Stepper(jobMachine);
  const next = random(1);
  const now = Date.now();
  const seeded = Math.round((seededRate * keepFinishedMs) / 1000);
  const records: ActorRecord[] = [];
  for (let index = 0; index < seeded; index++) {
    const finishedAt = now - keepFinishedMs + Math.round(((index + 1) * keepFinishedMs) / (seeded + 1));
    records.push(finishedJob(stepper, simulationJob(next), connectorIds, finishedAt, next));
  }
  for (let start = 0; start < records.length; start += 500) await hub.store.commit({ records: records.slice(start, start + 500) });

  const changes: Partial<Record<Kind, number>> = {};
  let counting = false;
  hub.store.subscribe((entries) => {
    if (!counting) return;
    for (const { record } of entries) changes[record.kind] = (changes[record.kind] ?? 0) + 1;
  });

  let submitting: NodeJS.Timeout | undefined;
  let submitted = 0;
  let submitErrors = 0;
  let firstError: string | undefined;
  const inFlight = new Set<Promise<void>>();
  const submit = (job: JobSubmission) => {
    const done = fetch(`${hub.url}/api/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(job) })
      .then(async (response) => {
        if (!response.ok) throw new Error(`${response.status} ${await response.text()}`);
        await response.arrayBuffer();
        submitted += 1;
      })
      .catch((error: unknown) => {
        submitErrors += 1;
        firstError ??= (error as Error).message;
      })
      .finally(() => inFlight.delete(done));
    inFlight.add(done);
  };

  serve(
    {
      start: (request) => {
        const { rate, seed } = request as unknown as StartRequest;
        const jitter = random(seed);
        counting = true;
        // Evenly paced with +-50% jitter around 1/rate, drift-free: aim at the schedule.
        const started = performance.now();
        let due = 0;
        const schedule = () => {
          due += (1000 / rate) * (0.5 + jitter());
          submitting = setTimeout(
            () => {
              submit(simulationJob(jitter));
              schedule();
            },
            Math.max(0, started + due - performance.now()),
          );
        };
        schedule();
        return { seeded };
      },
      finish: async (): Promise<WorkloadReport> => {
        clearTimeout(submitting);
        await Promise.all(inFlight);
        counting = false;
        const { records: jobs } = await hub.store.snapshot(['job']);
        const byState: Record<string, number> = {};
        for (const job of jobs) byState[job.state] = (byState[job.state] ?? 0) + 1;
        return { submitted, submitErrors, ...(firstError ? { firstError } : {}), changes, jobs: byState };
      },
    },
    async () => {
      clearTimeout(submitting);
      await Promise.all(workers.map((worker) => worker.stop()));
      await hub.close();
    },
  );
  ready({ url: hub.url, seeded });
}

main().catch(failed);
