/**
 * Records a whole hub as a monitor sees it: every actor's records and states from the moment
 * recording starts, and the view, which must always equal the hub's snapshot.
 */
import { Monitor, type MonitorOptions } from '../client/monitor.js';
import type { ActorRecord, Snapshot } from '../protocol/record.js';
import { collapse, expectSequence, type SequenceOptions } from './sequence.js';

export interface WaitOptions {
  /** Default 10 s. */
  timeoutMs?: number;
}

export class HubRecording {
  readonly monitor: Monitor;
  private readonly history = new Map<string, ActorRecord[]>();
  /** Offsets the view passed through, newest last (offsets are opaque: only equality means anything). */
  private readonly offsets = new Set<string>();

  constructor(readonly hubUrl: string, options: MonitorOptions = {}) {
    this.monitor = new Monitor(hubUrl, options);
    this.monitor.view.subscribe((changes, reset) => {
      if (reset) this.noteOffset(this.monitor.view.offset);
      for (const { record, offset } of changes) {
        this.noteOffset(offset);
        let records = this.history.get(record.id);
        if (!records) this.history.set(record.id, (records = []));
        if (records.at(-1)?.seq !== record.seq) records.push(record);
      }
    });
  }

  /** Resolves once the first snapshot (or replay) has been applied; rejects at once, with the reason, if the hub refuses. */
  async ready(options?: WaitOptions): Promise<this> {
    await this.until(() => this.monitor.state === 'live' || this.monitor.state === 'refused', 'the monitor to be live', options);
    const refusal = this.monitor.refusal;
    if (this.monitor.state === 'refused' && refusal) throw new Error(`the hub refused the monitor: ${refusal.code}: ${refusal.message}`);
    return this;
  }

  /** Every record of the actor seen while recording. */
  records(id: string): ActorRecord[] {
    return this.history.get(id) ?? [];
  }

  /** The actor's top-level states while recording, consecutive repeats dropped. */
  states(id: string): string[] {
    return collapse(this.records(id).map((record) => record.state));
  }

  /** Asserts an actor's state sequence, e.g. `'pending > assigned > running > completed'`. */
  expect(id: string, expected: string | readonly string[], options?: SequenceOptions): void {
    const kind = this.records(id)[0]?.kind ?? 'actor';
    expectSequence(this.states(id), expected, { label: `${kind} ${id}`, ...options });
  }

  /** The current view: every live record. */
  get view(): ReadonlyMap<string, ActorRecord> {
    return this.monitor.view.records;
  }

  /** Ids of every actor seen, in the order they first appeared. */
  ids(kind?: ActorRecord['kind']): string[] {
    return [...this.history.entries()].filter(([, records]) => !kind || records[0]?.kind === kind).map(([id]) => id);
  }

  /** Resolves with the actor's record once `match` holds for it (a state name or a predicate). */
  async waitFor(id: string, match: string | ((record: ActorRecord) => boolean), options?: WaitOptions): Promise<ActorRecord> {
    const test = typeof match === 'string' ? (record: ActorRecord) => record.state === match : match;
    const description = typeof match === 'string' ? `${id} to be ${match}` : `${id} to match`;
    await this.until(() => {
      const record = this.view.get(id) ?? this.records(id).at(-1);
      return record !== undefined && test(record);
    }, description, options);
    return (this.view.get(id) ?? this.records(id).at(-1)) as ActorRecord;
  }

  /** Resolves once `condition` holds, re-checked after every change; rejects after the timeout saying what it waited for. */
  until(condition: () => boolean, description = 'a condition', options: WaitOptions = {}): Promise<void> {
    if (condition()) return Promise.resolve();
    const timeoutMs = options.timeoutMs ?? 10_000;
    return new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!condition()) return;
        cleanup();
        resolve();
      };
      const unsubscribeView = this.monitor.view.subscribe(check);
      const unsubscribeState = this.monitor.onState(check);
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${description}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        unsubscribeView();
        unsubscribeState();
      };
    });
  }

  /** Resolves once the view has applied `snapshot`'s offset (e.g. one fetched from GET /api/snapshot). */
  caughtUp(snapshot: Snapshot, options?: WaitOptions): Promise<void> {
    return this.until(() => this.offsets.has(snapshot.offset), `offset ${snapshot.offset}`, options);
  }

  close(): void {
    this.monitor.close();
  }

  private noteOffset(offset: string | undefined): void {
    if (offset === undefined) return;
    this.offsets.add(offset);
    if (this.offsets.size > 100_000) this.offsets.delete(this.offsets.values().next().value as string);
  }
}

/** Starts recording the hub at `hubUrl`; resolves once the monitor is live. */
export async function recordHub(hubUrl: string, options?: MonitorOptions & WaitOptions): Promise<HubRecording> {
  const recording = new HubRecording(hubUrl, options);
  try {
    return await recording.ready(options);
  } catch (error) {
    recording.close();
    throw error;
  }
}
