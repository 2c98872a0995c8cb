/**
 * Wakes a webhook when a change it wants arrives, so it delivers within moments instead of at
 * its next POLL. Every hub sees every change (Store.subscribe) and keeps, from the same log, the
 * live webhooks with their filters and states; for an active webhook a matching change means a
 * NUDGE, which only sets its POLL timer due now (no record). At most one NUDGE per webhook per
 * NUDGE_MS from this hub: a busy log costs a webhook a few store writes per second, not one per
 * change.
 *
 * A change is looked at in log order, after the webhook changes before it: a change that arrives
 * while the webhook is delivering is not nudged for, and is found by the look the webhook makes
 * when it is active again (machines/webhook.ts).
 */
import type { WebhookEvent } from '../../../machines/webhook.js';
import type { ActorRecord, LogEntry } from '../../protocol/record.js';
import type { ActorHost } from '../actor-host.js';
import type { ReportError } from '../report-error.js';
import { webhookContext } from './deliveries.js';
import { changeMatcher, type ChangeMatcher } from './filter.js';

/** Least time (ms) between two NUDGEs of one webhook from this hub. */
const NUDGE_MS = 100;

interface Known {
  record: ActorRecord;
  matches: ChangeMatcher;
}

export class Nudges {
  private readonly webhooks = new Map<string, Known>();
  /** When each webhook was last nudged (this process's clock: only spacing matters). */
  private readonly nudgedAt = new Map<string, number>();
  /** NUDGEs held back by the spacing, each sent when its time comes. */
  private readonly later = new Map<string, NodeJS.Timeout>();
  private readonly sending = new Map<string, Promise<void>>();
  private stopped = false;

  constructor(
    private readonly host: ActorHost,
    /** Told when a webhook leaves the live set (its round, if this hub runs one, must stop). */
    private readonly onRemoved: (id: string) => void,
    private readonly onError: ReportError,
  ) {}

  /** Learns the live webhooks from a snapshot: at start, and after changes were lost (Store.onGap). */
  async load(): Promise<void> {
    for (const record of (await this.host.store.snapshot(['webhook'])).records) this.learn(record);
  }

  observe(entries: LogEntry[]): void {
    const wanted = new Set<string>();
    for (const { record } of entries) {
      if (record.kind === 'webhook') {
        this.learn(record);
        continue;
      }
      for (const [id, known] of this.webhooks) if (known.record.state === 'active' && known.matches(record)) wanted.add(id);
    }
    for (const id of wanted) this.nudge(id);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const handle of this.later.values()) clearTimeout(handle);
    this.later.clear();
    await Promise.all(this.sending.values());
  }

  private learn(record: ActorRecord): void {
    const known = this.webhooks.get(record.id);
    if (known && known.record.seq >= record.seq) return;
    if (record.removed) {
      this.webhooks.delete(record.id);
      this.nudgedAt.delete(record.id);
      clearTimeout(this.later.get(record.id));
      this.later.delete(record.id);
      this.onRemoved(record.id);
      return;
    }
    this.webhooks.set(record.id, { record, matches: changeMatcher(webhookContext(record).filter) });
  }

  private nudge(id: string): void {
    if (this.stopped || this.later.has(id)) return;
    const wait = (this.nudgedAt.get(id) ?? -Infinity) + NUDGE_MS - Date.now();
    if (wait > 0 || this.sending.has(id)) {
      const handle = setTimeout(() => {
        this.later.delete(id);
        if (this.webhooks.get(id)?.record.state === 'active') this.nudge(id);
      }, Math.max(wait, NUDGE_MS));
      this.later.set(id, handle);
      return;
    }
    this.nudgedAt.set(id, Date.now());
    const sent = this.host
      .run((tx) => tx.send(id, { type: 'NUDGE' } satisfies WebhookEvent))
      .then(
        () => {},
        (error: unknown) => this.onError(error, { what: `webhook ${id} could not be woken`, actorId: id }),
      )
      .finally(() => this.sending.delete(id));
    this.sending.set(id, sent);
  }
}
