/**
 * Fires durable timers: each due timer's event is fed to its actor in a transaction that also
 * consumes the timer, so with several hubs exactly one of them acts on it. Due times are read on
 * the store's clock, like the steps that set them, so a hub whose own clock is off fires them
 * neither early nor late.
 */
import type { ActorHost } from './actor-host.js';
import type { ReportError } from './report-error.js';
import { ConflictError } from '../store/store.js';

const BATCH = 500;

export class TimerLoop {
  private handle: NodeJS.Timeout | undefined;
  private nextAt = Infinity;
  private running: Promise<void> | undefined;
  private stopped = true;
  private readonly unsubscribe: () => void;

  /** `pollMs` bounds how late a timer set by another hub is noticed. */
  constructor(
    private readonly host: ActorHost,
    private readonly pollMs = 1_000,
    private readonly onError: ReportError = () => {},
  ) {
    this.unsubscribe = host.onTimersSet((dueAt) => this.wake(dueAt));
  }

  start(): void {
    this.stopped = false;
    this.wake(this.host.clock());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe();
    clearTimeout(this.handle);
    await this.running;
  }

  /** Makes sure the loop runs no later than `dueAt`. */
  wake(dueAt: number): void {
    if (this.stopped || dueAt >= this.nextAt) return;
    clearTimeout(this.handle);
    this.nextAt = dueAt;
    this.handle = setTimeout(() => this.tick(), Math.max(0, dueAt - this.host.clock()));
  }

  private tick(): void {
    this.nextAt = Infinity;
    if (this.running) {
      void this.running.then(() => this.wake(this.host.clock()));
      return;
    }
    this.running = this.fireDue()
      .catch((error: unknown) => this.onError(error, { what: 'due timers could not be read' }))
      .finally(async () => {
        this.running = undefined;
        if (this.stopped) return;
        const next = await this.host.store.nextDueAt().catch(() => undefined);
        this.wake(Math.min(next ?? Infinity, this.host.clock() + this.pollMs));
      });
  }

  private async fireDue(): Promise<void> {
    for (;;) {
      const due = await this.host.store.dueTimers(this.host.clock(), BATCH);
      for (const timer of due) {
        if (this.stopped) return;
        try {
          await this.host.run((tx) => tx.send(timer.actorId, timer.event), timer);
        } catch (error) {
          // Another step already consumed or replaced it.
          if (error instanceof ConflictError) continue;
          // The rest of the batch waits for the next tick, as the store is likely what failed.
          this.onError(error, { what: `timer ${timer.event.type} failed`, actorId: timer.actorId });
          return;
        }
      }
      if (due.length < BATCH) return;
    }
  }
}
