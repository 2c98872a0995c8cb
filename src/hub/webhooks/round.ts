/**
 * One delivery round of a webhook (machines/webhook.ts, state `delivering`): the changes after
 * its cursor, filtered, POSTed one at a time in offset order, each as `{ offset, record }`,
 * signed. It stops at the first failure, after MAX_PER_ROUND deliveries, when its lease is near
 * its end, or at the end of what it read. It runs outside any transaction and returns its report,
 * the event the machine then takes: DELIVERED, FAILED, or PAUSE when the changes it owes are gone.
 */
import type { RoundOutcome, WebhookContext, WebhookEvent } from '../../../machines/webhook.js';
import type { LogEntry } from '../../protocol/record.js';
import { changeMatcher } from './filter.js';
import { send, type PostOutcome } from './post.js';
import { SIGNATURE_HEADER, signature } from './signature.js';

/** Changes read per round (or look); a round that only skips unmatched ones moves the cursor past them. */
export const SCAN_LIMIT = 1_000;
/** Deliveries per round: each round is two records of the webhook, so not one per change. */
export const MAX_PER_ROUND = 100;
/** A POST is begun only if its timeout ends this long before the lease does. */
const LEASE_MARGIN_MS = 1_000;

export interface Round {
  id: string;
  /** The webhook as the START that began this round left it. */
  context: WebhookContext;
  secret: string;
  /** The changes after an offset, the earliest `limit` (Store.changesSince). */
  changesSince(offset: string, limit: number): Promise<LogEntry[] | undefined>;
  /** Epoch ms on the store's clock. */
  clock(): number;
  /** Fired when the hub stops or the webhook is deleted: the round ends where it is. */
  signal: AbortSignal;
}

export type RoundReport = Extract<WebhookEvent, { type: 'DELIVERED' | 'FAILED' | 'PAUSE' }>;

export async function deliverRound(round: Round): Promise<RoundReport> {
  const { context, clock } = round;
  const entries = await round.changesSince(context.cursor, SCAN_LIMIT);
  if (!entries) {
    return {
      type: 'PAUSE',
      round: context.round,
      at: clock(),
      reason: `changes were trimmed from the log before they were delivered (those after offset ${context.cursor}); resume with {"from":"now"} to go on from the end of the log without them`,
    };
  }
  const matches = changeMatcher(context.filter);
  const deadline = Date.parse(context.leaseUntil ?? '') - context.timeoutMs - LEASE_MARGIN_MS;
  let cursor = context.cursor;
  let delivered = 0;
  let first: string | null = null;
  let lastDelivered: string | null = null;
  let last: PostOutcome | undefined;
  const report = (type: 'DELIVERED' | 'FAILED', failed?: LogEntry): RoundReport => ({
    type,
    round: context.round,
    at: clock(),
    cursor,
    ...outcome(delivered, first, lastDelivered, last, failed),
  });
  for (const entry of entries) {
    if (!matches(entry.record)) {
      cursor = entry.offset;
      continue;
    }
    // The first POST always goes: a round that could not make one would be made again forever.
    if (round.signal.aborted || delivered >= MAX_PER_ROUND || (delivered > 0 && clock() > deadline)) break;
    try {
      last = await send(signedPost(round, entry));
    } catch {
      break; // the round was stopped: this change stays owed
    }
    if (!last.ok) return report('FAILED', entry);
    cursor = entry.offset;
    delivered += 1;
    first ??= entry.offset;
    lastDelivered = entry.offset;
  }
  return report('DELIVERED');
}

function outcome(delivered: number, first: string | null, lastDelivered: string | null, post: PostOutcome | undefined, failed: LogEntry | undefined): Omit<RoundOutcome, 'at'> {
  return {
    delivered,
    first,
    last: lastDelivered,
    ok: failed === undefined,
    status: post?.status ?? null,
    ms: post?.ms ?? null,
    error: post?.error ?? null,
    offset: failed?.offset ?? null,
  };
}

function signedPost(round: Round, entry: LogEntry) {
  const body = JSON.stringify({ offset: entry.offset, record: entry.record });
  return {
    url: round.context.url,
    body,
    headers: {
      [SIGNATURE_HEADER]: signature(round.secret, round.clock(), body),
      'x-statehub-webhook': round.id,
      'x-statehub-offset': entry.offset,
    },
    timeoutMs: round.context.timeoutMs,
    signal: round.signal,
  };
}
