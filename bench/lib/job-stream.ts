/**
 * A stream of realistic job records for the latency bench: jobs built by the real job machine
 * (machines/job.ts through the hub's Stepper), each moving pending > assigned > running
 * (progress 20..80) > completed and then leaving the live set, `seq` +1 per change. A fixed pool
 * of jobs is in flight at once; a job that left is replaced by a new one, so the live set (and
 * the snapshot a monitor joins with) stays the size of the pool.
 *
 * The machine's steps are computed once per template; a record costs two object spreads, so
 * the generator stays cheap beside the hub it feeds.
 */
import { jobMachine } from '../../machines/job.js';
import { Stepper } from '../../src/hub/step.js';
import { topState, type ActorRecord, type PersistedSnapshot } from '../../src/protocol/record.js';

/** Written into every record's `snapshot.context`, for the monitors to measure. */
export interface Stamp {
  /** Commit time, `performance.timeOrigin + performance.now()` of the generating process. */
  t: number;
  /** The bench cell the record belongs to. */
  bc: string;
  /** 1 once the cell's warm-up is over. */
  bm: 0 | 1;
}

interface Template {
  /** The job's persisted snapshots, one per recorded state, in order. */
  steps: PersistedSnapshot[];
}

const TEMPLATES = 8;

function buildTemplates(): Template[] {
  const stepper = new Stepper(jobMachine);
  const createdAt = new Date().toISOString();
  const templates: Template[] = [];
  for (let k = 0; k < TEMPLATES; k++) {
    const workerId = `bench-machine-${k % 2}-worker-${k % 4}`;
    const connectorId = `${workerId}/simulation-${(k % 2) + 1}`;
    const payload = { durationMs: 1_000 + 250 * k, steps: 4, prompt: `a lighthouse at dusk, variant ${k}` };
    const steps: PersistedSnapshot[] = [];
    let { snapshot } = stepper.initial({ type: 'simulation', payload, priority: k % 3 === 0 ? 10 : 0, createdAt });
    steps.push(snapshot);
    const events = [
      { type: 'ASSIGN', workerId, connectorId },
      { type: 'START' },
      ...[20, 40, 60, 80].map((progress) => ({ type: 'PROGRESS', progress })),
      { type: 'COMPLETE', result: { attempt: 1, steps: 4, durationMs: payload.durationMs + 3 } },
    ] as const;
    for (const event of events) {
      snapshot = stepper.next(snapshot, event).snapshot;
      steps.push(snapshot);
    }
    templates.push({ steps });
  }
  return templates;
}

interface Slot {
  id: string;
  template: Template;
  /** Index of the next record: 0..steps.length-1 are states, steps.length is the removal. */
  next: number;
  createdAt: string;
}

export class JobStream {
  private readonly templates = buildTemplates();
  private readonly slots: Slot[] = [];
  private cursor = 0;
  private created = 0;

  constructor(
    /** Jobs in flight at once. */
    private readonly pool = 500,
    /** Distinguishes this stream's ids from any other's. */
    private readonly prefix = `bench-${process.pid}-${Date.now().toString(36)}`,
  ) {}

  /** The next `count` changes, round-robin over the pool. `stamp` fills the bench fields; set `t` right before committing. */
  take(count: number, stamp: Stamp): ActorRecord[] {
    const records: ActorRecord[] = [];
    const updatedAt = new Date().toISOString();
    for (let index = 0; index < count; index++) {
      if (this.slots.length < this.pool) this.slots.push(this.newJob(updatedAt));
      const slot = this.slots[this.cursor] as Slot;
      this.cursor = (this.cursor + 1) % this.pool;
      const { steps } = slot.template;
      const base = steps[Math.min(slot.next, steps.length - 1)] as PersistedSnapshot;
      const snapshot = { ...base, context: { ...base.context, createdAt: slot.createdAt, ...stamp } };
      const record: ActorRecord = { id: slot.id, kind: 'job', seq: slot.next + 1, state: topState(snapshot.value), snapshot, updatedAt };
      if (slot.next === steps.length) {
        record.removed = true;
        Object.assign(slot, this.newJob(updatedAt));
      } else {
        slot.next += 1;
      }
      records.push(record);
    }
    return records;
  }

  private newJob(createdAt: string): Slot {
    this.created += 1;
    return { id: `${this.prefix}-${this.created}`, template: this.templates[this.created % TEMPLATES] as Template, next: 0, createdAt };
  }
}

/** Sets the commit time of records made by `take`, just before they are committed. */
export function stampTime(records: ActorRecord[], t: number): void {
  for (const record of records) (record.snapshot.context as unknown as Stamp).t = t;
}
