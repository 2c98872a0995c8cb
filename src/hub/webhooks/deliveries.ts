/**
 * The hub's side of webhook deliveries (machines/webhook.ts): it performs the machine's `look`
 * and `deliver` effects. Both run after the step that asked for them committed, so only the hub
 * that took the POLL timer looks, and only the hub whose START won runs the round; neither holds
 * a transaction (or the timer loop) while it reads the log or waits for an endpoint. Rounds of
 * different webhooks run side by side: a slow endpoint delays only its own.
 */
import type { WebhookContext, WebhookEvent } from '../../../machines/webhook.js';
import type { ActorRecord } from '../../protocol/record.js';
import type { ActorHost } from '../actor-host.js';
import type { ReportError } from '../report-error.js';
import { changeMatcher } from './filter.js';
import { SCAN_LIMIT, deliverRound, type RoundReport } from './round.js';

export const webhookContext = (record: ActorRecord) => record.snapshot.context as unknown as WebhookContext;

export class Deliveries {
  /** This hub's rounds under way, by webhook. */
  private readonly rounds = new Map<string, AbortController>();
  private readonly running = new Set<Promise<void>>();
  private stopped = false;

  constructor(
    private readonly host: ActorHost,
    /** Names this hub in the rounds it holds (`hub` in the webhook's record). */
    private readonly hubId: string,
    private readonly onError: ReportError,
  ) {
    host.provideEffect('look', (tx, _params, record) => tx.onCommit(() => this.track(this.look(record), `webhook ${record.id} could not look for changes`, record.id)));
    host.provideEffect('deliver', (tx, _params, record) => tx.onCommit(() => this.track(this.deliver(record), `webhook ${record.id}'s delivery round failed`, record.id)));
  }

  /** Stops this hub's round of `id` (the webhook was deleted). */
  forget(id: string): void {
    this.rounds.get(id)?.abort();
  }

  /** Ends every round where it is (each reports how far it got) and waits for the looks and reports under way. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const round of this.rounds.values()) round.abort();
    while (this.running.size > 0) await Promise.all(this.running);
  }

  /** Keeps `work` until it ends; a failure (the store did not answer) is reported, and the webhook's timers try again. */
  private track(work: Promise<void>, what: string, actorId: string): void {
    const tracked = work.catch((error: unknown) => this.onError(error, { what, actorId })).finally(() => this.running.delete(tracked));
    this.running.add(tracked);
  }

  /** START when changes after the cursor are owed: some match, or a whole page does not (the cursor must move past them before the log is trimmed). */
  private async look(record: ActorRecord): Promise<void> {
    if (this.stopped) return;
    const context = webhookContext(record);
    const entries = await this.host.store.changesSince(context.cursor, SCAN_LIMIT);
    const matches = changeMatcher(context.filter);
    const owed = entries === undefined || entries.length === SCAN_LIMIT || entries.some((entry) => matches(entry.record));
    // A hub that is stopping begins no round it would not run (another hub would wait for its lease).
    if (!owed || this.stopped) return;
    await this.host.run((tx) => tx.send(record.id, { type: 'START', hub: this.hubId, at: tx.now } satisfies WebhookEvent));
  }

  private async deliver(record: ActorRecord): Promise<void> {
    if (this.stopped) return;
    // A round of this hub whose lease ran out and that this hub now begins again.
    this.rounds.get(record.id)?.abort();
    const controller = new AbortController();
    this.rounds.set(record.id, controller);
    try {
      const report = await this.round(record, controller.signal);
      // Sent to a deleted webhook, it changes nothing.
      await this.host.run((tx) => tx.send(record.id, report));
    } finally {
      if (this.rounds.get(record.id) === controller) this.rounds.delete(record.id);
    }
  }

  private async round(record: ActorRecord, signal: AbortSignal): Promise<RoundReport> {
    const context = webhookContext(record);
    const { store } = this.host;
    const secret = await store.getSecret(record.id);
    if (secret === undefined) {
      return { type: 'PAUSE', round: context.round, at: this.host.clock(), reason: 'its secret is missing from the store: delete the webhook and register it again' };
    }
    return deliverRound({
      id: record.id,
      context,
      secret,
      changesSince: (offset, limit) => store.changesSince(offset, limit),
      clock: () => this.host.clock(),
      signal,
    });
  }
}
