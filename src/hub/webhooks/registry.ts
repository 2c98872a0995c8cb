/**
 * Webhooks as operators manage them (`/api/webhooks`): register, list, read, delete, resume, and
 * the delivery log. A registration is a `webhook` actor (machines/webhook.ts) whose record
 * monitors see like any other, and a secret the store keeps beside the records, never in one.
 */
import { randomBytes } from 'node:crypto';
import type { RoundOutcome, WebhookFilter, WebhookInput, WebhookSettings } from '../../../machines/webhook.js';
import { HubError } from '../../protocol/errors.js';
import { KINDS, type ActorRecord, type LogEntry } from '../../protocol/record.js';
import type { WebhookRegistration } from '../../protocol/webhooks.js';
import type { ActorHost } from '../actor-host.js';
import type { Transaction } from '../transaction.js';
import { webhookContext } from './deliveries.js';

/** One line of a webhook's delivery log: a change of the webhook that ended a round, paused or resumed it. */
export interface DeliveryLogEntry {
  /** The offset of that change of the webhook (not of a delivered change: see `outcome.first` / `outcome.last`). */
  offset: string;
  /** `DELIVERED` or `FAILED` (a round ended), `LEASE_EXPIRED` (its hub did not finish it), `PAUSE`, `RESUME`. */
  event: string;
  /** The webhook's state and cursor after it. */
  state: string;
  cursor: string;
  round: number;
  /** The round's outcome; null for PAUSE and RESUME. */
  outcome: RoundOutcome | null;
  /** Why it is paused, when it is. */
  reason: string | null;
}

const DELIVERABLE_KINDS = KINDS.filter((kind) => kind !== 'webhook');

export class WebhookRegistry {
  constructor(
    private readonly host: ActorHost,
    /** The hub's: what a registration does not choose, and the defaults of what it may. */
    private readonly defaults: WebhookSettings,
  ) {}

  /**
   * Creates the webhook and its secret (the one given, or a new one). Its cursor is `since`, or
   * the end of the log: it is told the changes committed after it. Returns the secret once;
   * nothing shows it again. Throws HubError `bad_request` for a state no kind it selects has,
   * a timeout over half the lease, or a `since` whose changes are not all held.
   */
  async register(registration: WebhookRegistration): Promise<{ id: string; secret: string; record: ActorRecord }> {
    const { store } = this.host;
    const filter: WebhookFilter = registration.filter ?? {};
    this.checkStates(filter);
    const timeoutMs = registration.timeoutMs ?? this.defaults.timeoutMs;
    if (timeoutMs * 2 > this.defaults.leaseMs) {
      throw new HubError('bad_request', `timeoutMs ${timeoutMs} is over half the hub's webhook lease (${this.defaults.leaseMs} ms): a round must be able to finish a POST within its lease`);
    }
    if (registration.since !== undefined && (await store.changesSince(registration.since, 1)) === undefined) {
      throw new HubError('bad_request', `since: the changes after ${registration.since} are not all held any more (or it is no offset of this hub)`);
    }
    const cursor = registration.since ?? (await store.snapshot(['webhook'])).offset;
    const id = `webhook_${randomBytes(8).toString('hex')}`;
    const secret = registration.secret ?? `whsec_${randomBytes(24).toString('base64url')}`;
    const input: WebhookInput = {
      ...this.defaults,
      url: registration.url,
      filter,
      cursor,
      timeoutMs,
      ...(registration.maxFailures === undefined ? {} : { maxFailures: registration.maxFailures }),
      ...(registration.backoffMs === undefined ? {} : { backoffMs: registration.backoffMs }),
      ...(registration.description === undefined ? {} : { description: registration.description }),
      createdAt: new Date(this.host.clock()).toISOString(),
    };
    // The secret first: a webhook never exists without one.
    await store.putSecret(id, secret);
    try {
      const { value } = await this.host.run((tx) => tx.create('webhook', id, input));
      return { id, secret, record: value };
    } catch (error) {
      await store.deleteSecret(id).catch(() => {});
      throw error;
    }
  }

  /** The live webhooks, by id. */
  async list(): Promise<ActorRecord[]> {
    const { records } = await this.host.store.snapshot(['webhook']);
    return records.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** The webhook's record, also for a while after it was deleted (its removal); HubError `not_found` otherwise. */
  async get(id: string): Promise<ActorRecord> {
    const record = await this.host.store.get(id);
    if (!record || record.kind !== 'webhook') throw new HubError('not_found', `no webhook ${id}`);
    return record;
  }

  /** Deletes the webhook (a round under way stops) and its secret; returns its removal record. */
  async remove(id: string): Promise<ActorRecord> {
    const { value } = await this.host.run(async (tx) => tx.remove(await live(tx, id)));
    await this.host.store.deleteSecret(id);
    return value;
  }

  /**
   * Resumes a paused webhook from its cursor, or with `from: "now"` from the end of the log (the
   * changes in between are not delivered: the RESUME event in its history says where it skipped
   * to). HubError `conflict` when it is not paused.
   */
  async resume(id: string, from: 'cursor' | 'now' = 'cursor'): Promise<ActorRecord> {
    const end = from === 'now' ? (await this.host.store.snapshot(['webhook'])).offset : undefined;
    const { value } = await this.host.run(async (tx) => {
      const record = await live(tx, id);
      if (record.state !== 'paused') throw new HubError('conflict', `webhook ${id} is ${record.state}, not paused`, { state: record.state });
      return (await tx.send(id, { type: 'RESUME', ...(end === undefined ? {} : { cursor: end }) })) as ActorRecord;
    });
    return value;
  }

  /** The delivery log: from the webhook's history, so its length is the store's history limit (changes, two per round). */
  async deliveries(id: string): Promise<{ deliveries: DeliveryLogEntry[]; limit: number }> {
    await this.get(id);
    const history = await this.host.store.history(id);
    return { deliveries: history.flatMap(logEntryOf), limit: this.host.store.historyLimit };
  }

  /** A state the filter names that no kind it selects is ever in is surely a mistake: refused. */
  private checkStates(filter: WebhookFilter): void {
    if (!filter.states) return;
    const kinds = filter.jobTypes ? ['job' as const] : (filter.kinds ?? DELIVERABLE_KINDS);
    const known = new Set<string>();
    for (const kind of kinds) {
      const definition = this.host.definition(kind as (typeof KINDS)[number]);
      // A kind whose machine this hub does not run: its states cannot be checked here.
      if (!definition) return;
      for (const state of definition.root.states) known.add(state.key);
    }
    const unknown = filter.states.filter((state) => !known.has(state));
    if (unknown.length > 0) {
      throw new HubError('bad_request', `invalid webhook: filter.states: no ${kinds.join(', ')} is ever ${unknown.join(', ')} (states: ${[...known].join(', ')})`, {
        issues: [{ path: 'filter.states', message: `unknown states: ${unknown.join(', ')}` }],
      });
    }
  }
}

async function live(tx: Transaction, id: string): Promise<ActorRecord> {
  const record = await tx.get(id);
  if (!record || record.removed || record.kind !== 'webhook') throw new HubError('not_found', `no webhook ${id}`);
  return record;
}

const LOGGED = new Set(['DELIVERED', 'FAILED', 'PAUSE', 'RESUME']);

function logEntryOf(entry: LogEntry): DeliveryLogEntry[] {
  const type = entry.event?.type ?? '';
  const leaseExpired = type.startsWith('xstate.after.lease.');
  if (!LOGGED.has(type) && !leaseExpired) return [];
  const context = webhookContext(entry.record);
  const endsRound = type === 'DELIVERED' || type === 'FAILED' || leaseExpired;
  return [
    {
      offset: entry.offset,
      event: leaseExpired ? 'LEASE_EXPIRED' : type,
      state: entry.record.state,
      cursor: context.cursor,
      round: context.round,
      outcome: endsRound ? context.last : null,
      reason: context.reason,
    },
  ];
}
