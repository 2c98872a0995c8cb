/**
 * A monitor's view of the hub: a snapshot, then every change after it, applied in offset order.
 * Framework-free, so the monitor UI, the test kit and scripts share it. It also checks the
 * contract's promise as it goes: per actor, each change follows the last one (seq + 1).
 */
import type { ActorRecord, ChangeEvent, LogEntry, Snapshot } from '../protocol/record.js';

export interface ViewChange {
  /** The record as it is now (for a removed actor: its last record, with `removed: true`). */
  record: ActorRecord;
  /** What the view held before, if anything. */
  previous: ActorRecord | undefined;
  /** The change's offset; for a snapshot's records, the snapshot's. */
  offset: string;
  /** The event that caused the change, when the monitor asked for events (`events: true`). */
  event?: ChangeEvent;
}

export class View {
  readonly records = new Map<string, ActorRecord>();
  /** Offset of the last change applied; undefined before the first snapshot. */
  offset: string | undefined;
  /** Contract violations seen (gaps, duplicates): empty when the hub keeps its promise. */
  readonly problems: string[] = [];
  private readonly listeners = new Set<(changes: ViewChange[], reset: boolean) => void>();

  /** Replaces everything with `snapshot`. */
  applySnapshot(snapshot: Snapshot): void {
    this.records.clear();
    for (const record of snapshot.records) this.records.set(record.id, record);
    this.offset = snapshot.offset;
    this.emit(snapshot.records.map((record) => ({ record, previous: undefined, offset: snapshot.offset })), true);
  }

  /** Applies changes that follow what the view holds. */
  applyTransitions(entries: LogEntry[]): void {
    const changes: ViewChange[] = [];
    for (const { offset, record, event } of entries) {
      const previous = this.records.get(record.id);
      const expected = previous ? previous.seq + 1 : 1;
      if (record.seq !== expected && this.offset !== undefined) {
        this.problems.push(`${record.id}: got seq ${record.seq} after ${previous ? previous.seq : 'nothing'} (offset ${offset})`);
      }
      if (record.removed) this.records.delete(record.id);
      else this.records.set(record.id, record);
      this.offset = offset;
      changes.push(event === undefined ? { record, previous, offset } : { record, previous, offset, event });
    }
    if (changes.length > 0) this.emit(changes, false);
  }

  /** Calls `listener` after every snapshot (`reset`) and every batch of changes. */
  subscribe(listener: (changes: ViewChange[], reset: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(changes: ViewChange[], reset: boolean): void {
    for (const listener of this.listeners) listener(changes, reset);
  }
}
