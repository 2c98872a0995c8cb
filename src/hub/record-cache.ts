/**
 * The latest records this hub has seen, so a transaction reads them without a round trip to a
 * remote store. It may lag another hub's commit: the commit's seq check then fails and the
 * transaction runs again reading the store itself. Kept current by the log and by this hub's
 * own commits; removed actors leave it (their last seq stays known for a while, so an older
 * read cannot bring them back).
 */
import type { ActorRecord } from '../protocol/record.js';

const TOMBSTONES = 100_000;

export class RecordCache {
  private readonly records = new Map<string, ActorRecord>();
  private readonly removed = new Map<string, number>();

  get(id: string): ActorRecord | undefined {
    return this.records.get(id);
  }

  /** Takes what it did not know yet: a record newer than the one it holds. */
  learn(record: ActorRecord): void {
    const known = this.records.get(record.id)?.seq ?? this.removed.get(record.id) ?? 0;
    if (record.seq <= known) return;
    if (!record.removed) {
      this.records.set(record.id, record);
      return;
    }
    this.records.delete(record.id);
    this.removed.delete(record.id);
    this.removed.set(record.id, record.seq);
    if (this.removed.size > TOMBSTONES) this.removed.delete(this.removed.keys().next().value as string);
  }
}
