/**
 * Finished jobs leave the live set after a while, so the snapshot stays the size of what is
 * happening now; the store keeps them readable by id for its archive retention.
 */
import type { LogEntry } from '../protocol/record.js';
import type { ActorHost } from './actor-host.js';
import type { ReportError } from './report-error.js';
import { isFinal } from './jobs.js';

export interface RetentionOptions {
  /** How long a finished job stays in the live set. */
  keepFinishedMs: number;
  /** At most this many finished jobs stay in the live set; the oldest leave first. */
  maxFinished: number;
}

export const RETENTION_DEFAULTS: RetentionOptions = { keepFinishedMs: 5 * 60_000, maxFinished: 10_000 };

const BATCH = 500;

export class Retention {
  /** Finished jobs in the live set, in the order they finished. */
  private finished: Array<{ id: string; at: number }> = [];
  private head = 0;
  private handle: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;

  constructor(
    private readonly host: ActorHost,
    private readonly options: RetentionOptions,
    private readonly onError: ReportError,
  ) {}

  start(sweepMs = 1_000): void {
    this.handle = setInterval(() => this.sweep(), sweepMs);
    this.handle.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.handle);
    await this.sweeping;
  }

  observe(entries: LogEntry[]): void {
    for (const { record } of entries) {
      if (record.kind === 'job' && !record.removed && isFinal(record)) this.finished.push({ id: record.id, at: Date.parse(record.updatedAt) });
    }
    if (this.finished.length - this.head > this.options.maxFinished + BATCH) this.sweep();
  }

  private sweep(): void {
    if (this.sweeping) return;
    this.sweeping = this.removeDue()
      .catch((error: unknown) => this.onError(error, { what: 'finished jobs could not leave the live set' }))
      .finally(() => (this.sweeping = undefined));
  }

  private async removeDue(): Promise<void> {
    for (;;) {
      const cutoff = this.host.clock() - this.options.keepFinishedMs;
      const excess = this.finished.length - this.head - this.options.maxFinished;
      let end = this.head;
      while (end < this.finished.length && end - this.head < BATCH && ((this.finished[end]?.at ?? 0) <= cutoff || end - this.head < excess)) end++;
      if (end === this.head) return;
      const ids = this.finished.slice(this.head, end).map((item) => item.id);
      await this.host.run(async (tx) => {
        for (const id of ids) {
          const job = await tx.get(id);
          if (job && !job.removed && isFinal(job)) tx.remove(job);
        }
      });
      this.head = end;
      if (this.head > 4_096 && this.head * 2 > this.finished.length) {
        this.finished = this.finished.slice(this.head);
        this.head = 0;
      }
    }
  }
}
