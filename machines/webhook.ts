/**
 * A webhook (kind `webhook`): one HTTP endpoint told every matching change of the log, in offset
 * order, at least once.
 *
 *   active ──POLL: look──> matching changes after the cursor? ──START──> delivering
 *     ^  ^                                                                   │
 *     │  └──────────────────── DELIVERED (the cursor moved on) ──────────────┤
 *     │  └──────────────────── the lease ran out (the hub died) ─────────────┤
 *     │                                                                      │ FAILED
 *     │                  retrying (backoff) <── failures in a row < maxFailures
 *     │                     └──POLL: look, START──> delivering
 *     └── RESUME ── paused <── maxFailures failures in a row, or PAUSE (the changes after the
 *                              cursor were trimmed from the log: never skipped silently)
 *
 * The cursor is the offset of the last change handled: delivered, or not matching the filter.
 * Every change after it is still owed, so a webhook resumes from there after anything (a
 * failing endpoint, a pause, a hub killed mid-delivery).
 *
 * Exactly one hub delivers. Looking is a durable timer (POLL) that one hub takes from the store,
 * with the `look` effect: that hub reads the changes after the cursor and, when some match,
 * sends START. START is a change of record, guarded by seq like every step, so one START wins;
 * the hub that committed it performs `deliver` (the POSTs, outside any transaction) under a lease
 * that ends at `leaseUntil`, and reports the round's outcome naming its `round`. A report about
 * another round (its lease ran out meanwhile) is ignored: the changes it covered are delivered
 * again from the cursor (at-least-once; receivers tell duplicates by offset).
 *
 * NUDGE is a hub saying a matching change arrived: an active webhook looks now instead of at its
 * next POLL. Entering `active` looks at once too, so a change that came during a round is not
 * left for the next POLL. POLL and NUDGE change no record: a quiet webhook writes nothing.
 *
 * This file does no I/O and reads no clock: times arrive in events (epoch ms, the store's clock).
 */
import { and, assign, cancel, raise, setup } from 'xstate';

/** Which changes a webhook is told: all of the given lists must match (an absent list matches all). */
export interface WebhookFilter {
  /** Actor kinds (`webhook` never: a webhook is not told of webhooks, which would loop). */
  kinds?: string[];
  /** Top-level states of the changed record. */
  states?: string[];
  /** Job types: only job records of these types match. */
  jobTypes?: string[];
}

/** How a webhook delivers. Durations in milliseconds. */
export interface WebhookSettings {
  /** Failed rounds in a row that pause the webhook. */
  maxFailures: number;
  /** The first retry waits this long; each further one twice as long, up to MAX_WEBHOOK_BACKOFF_MS. */
  backoffMs: number;
  /** Longest one POST may take, answer read included. */
  timeoutMs: number;
  /** How long a hub holds a round: past it, another hub delivers again from the cursor. */
  leaseMs: number;
  /** An active webhook looks for changes at least this often (a NUDGE makes it look sooner). */
  pollMs: number;
}

export const WEBHOOK_DEFAULTS: WebhookSettings = {
  maxFailures: 10,
  backoffMs: 1_000,
  timeoutMs: 10_000,
  leaseMs: 60_000,
  pollMs: 10_000,
};

export const MAX_WEBHOOK_BACKOFF_MS = 5 * 60_000;

export interface WebhookInput extends WebhookSettings {
  url: string;
  filter: WebhookFilter;
  /** Changes after this offset are owed. */
  cursor: string;
  /** ISO-8601. */
  createdAt: string;
  /** For people: what the endpoint is for. */
  description?: string;
}

/** How a round ended. */
export interface RoundOutcome {
  /** ISO-8601: when it ended. */
  at: string;
  /** Changes it delivered (answered 2xx). */
  delivered: number;
  /** Offsets of the first and last change it delivered; null when none. */
  first: string | null;
  last: string | null;
  /** False when a POST failed: `offset` is the change it carried, `error` why. */
  ok: boolean;
  /** The last POST's HTTP status; null when it got no answer or none was sent. */
  status: number | null;
  /** The last POST's duration (to 0.1 ms); null when none was sent. */
  ms: number | null;
  error: string | null;
  offset: string | null;
}

export interface WebhookContext extends WebhookSettings {
  url: string;
  filter: WebhookFilter;
  description: string | null;
  /** The offset of the last change handled (delivered, or not matching). */
  cursor: string;
  /** Rounds begun; a round's outcome names its number. */
  round: number;
  /** The hub holding the current round, and until when (ISO-8601); null outside `delivering`. */
  hub: string | null;
  leaseUntil: string | null;
  /** Changes delivered, all rounds together. */
  delivered: number;
  /** Rounds that failed, all together. */
  failures: number;
  /** Rounds that failed since the last one that delivered something. */
  consecutiveFailures: number;
  /** The last round's outcome; null before the first. */
  last: RoundOutcome | null;
  /** Why it is paused; null when it is not. */
  reason: string | null;
  createdAt: string;
}

/** What a round reports: how far it got. */
interface RoundReport extends Omit<RoundOutcome, 'at'> {
  round: number;
  /** Epoch ms when it ended. */
  at: number;
  /** The new cursor: the last change handled before the round stopped. */
  cursor: string;
}

export type WebhookEvent =
  /** Time to look for changes (the durable timer). */
  | { type: 'POLL' }
  /** A matching change arrived: look now. */
  | { type: 'NUDGE' }
  /** A look found changes to deliver: `hub` holds the round from `at` (epoch ms) for leaseMs. */
  | { type: 'START'; hub: string; at: number }
  | ({ type: 'DELIVERED' } & RoundReport)
  | ({ type: 'FAILED' } & RoundReport)
  /** The round cannot go on without someone's decision (the changes were trimmed): pause with `reason`. */
  | { type: 'PAUSE'; round: number; at: number; reason: string }
  /** Deliver again; `cursor`, when given, skips to there (an operator's decision, recorded here). */
  | { type: 'RESUME'; cursor?: string };

/** Backoff before the retry that follows `consecutiveFailures` failed rounds: backoffMs, 2x, 4x ... capped. */
export function webhookRetryDelay(context: Pick<WebhookContext, 'backoffMs' | 'consecutiveFailures'>): number {
  return Math.min(context.backoffMs * 2 ** Math.max(0, context.consecutiveFailures - 1), MAX_WEBHOOK_BACKOFF_MS);
}

const iso = (epochMs: number) => new Date(epochMs).toISOString();

type Report = Extract<WebhookEvent, { type: 'DELIVERED' | 'FAILED' }>;

/** Failed rounds in a row with `failed`: a round that delivered something before failing starts a new streak. */
function failuresInARow(context: WebhookContext, failed: Report): number {
  return failed.delivered > 0 ? 1 : context.consecutiveFailures + 1;
}

function outcomeOf(event: Report): RoundOutcome {
  const { type: _type, round: _round, cursor: _cursor, at, ...outcome } = event;
  return { ...outcome, at: iso(at) };
}

export const webhookMachine = setup({
  types: {
    context: {} as WebhookContext,
    events: {} as WebhookEvent,
    input: {} as WebhookInput,
  },
  delays: {
    poll: ({ context }) => context.pollMs,
    lease: ({ context }) => context.leaseMs,
    retryBackoff: ({ context }) => webhookRetryDelay(context),
  },
  guards: {
    /** The report is about the round under way (not one whose lease ran out). */
    thisRound: ({ context, event }) => 'round' in event && event.round === context.round,
    /** With this failure, maxFailures rounds in a row failed. */
    failedTooOften: ({ context, event }) => event.type === 'FAILED' && failuresInARow(context, event) >= context.maxFailures,
  },
  actions: {
    /** Effect: read the changes after the cursor and send START when some are to be delivered. */
    look: () => {},
    /** Effect: the round (POSTs, outside any transaction), ending with its report. Only the hub that committed START performs it. */
    deliver: () => {},
    // One id for every look: each schedule replaces the pending one, so there is never more than one.
    lookNow: raise({ type: 'POLL' }, { id: 'poll', delay: 0 }),
    lookLater: raise({ type: 'POLL' }, { id: 'poll', delay: 'poll' }),
    lookAfterBackoff: raise({ type: 'POLL' }, { id: 'poll', delay: 'retryBackoff' }),
    stopLooking: cancel('poll'),
    takeLease: assign(({ context, event }) =>
      event.type === 'START' ? { round: context.round + 1, hub: event.hub, leaseUntil: iso(event.at + context.leaseMs) } : {},
    ),
    /** What every round's report records: its outcome, how far the cursor moved, and the lease given back. */
    recordRound: assign(({ context, event }) => {
      if (event.type !== 'DELIVERED' && event.type !== 'FAILED') return {};
      const failed = event.type === 'FAILED';
      return {
        cursor: event.cursor,
        delivered: context.delivered + event.delivered,
        failures: context.failures + (failed ? 1 : 0),
        consecutiveFailures: failed ? failuresInARow(context, event) : event.delivered > 0 ? 0 : context.consecutiveFailures,
        last: outcomeOf(event),
        hub: null,
        leaseUntil: null,
      };
    }),
    leaseLost: assign(({ context }) => ({
      last: {
        at: context.leaseUntil ?? context.createdAt,
        delivered: 0,
        first: null,
        last: null,
        ok: false,
        status: null,
        ms: null,
        error: `hub ${context.hub ?? '?'} did not finish round ${context.round} within its lease: delivering again from the cursor`,
        offset: null,
      },
      hub: null,
      leaseUntil: null,
    })),
    pauseAfterFailures: assign(({ context }) => ({
      reason: `${context.consecutiveFailures} round${context.consecutiveFailures === 1 ? '' : 's'} in a row failed (the last: ${context.last?.error ?? 'unknown'}); resume it once the endpoint is fixed`,
    })),
    pauseWithReason: assign(({ event }) => (event.type === 'PAUSE' ? { reason: event.reason, hub: null, leaseUntil: null } : {})),
    resume: assign(({ context, event }) => ({
      reason: null,
      consecutiveFailures: 0,
      cursor: event.type === 'RESUME' && event.cursor !== undefined ? event.cursor : context.cursor,
    })),
  },
}).createMachine({
  id: 'webhook',
  context: ({ input }) => ({
    url: input.url,
    filter: input.filter,
    description: input.description ?? null,
    maxFailures: input.maxFailures,
    backoffMs: input.backoffMs,
    timeoutMs: input.timeoutMs,
    leaseMs: input.leaseMs,
    pollMs: input.pollMs,
    cursor: input.cursor,
    round: 0,
    hub: null,
    leaseUntil: null,
    delivered: 0,
    failures: 0,
    consecutiveFailures: 0,
    last: null,
    reason: null,
    createdAt: input.createdAt,
  }),
  initial: 'active',
  states: {
    active: {
      entry: 'lookNow',
      exit: 'stopLooking',
      on: {
        POLL: { actions: ['look', 'lookLater'] },
        NUDGE: { actions: 'lookNow' },
        START: { target: 'delivering', actions: 'takeLease' },
      },
    },
    delivering: {
      entry: 'deliver',
      after: { lease: { target: 'active', actions: 'leaseLost' } },
      on: {
        DELIVERED: { guard: 'thisRound', target: 'active', actions: 'recordRound' },
        FAILED: [
          { guard: and(['thisRound', 'failedTooOften']), target: 'paused', actions: ['recordRound', 'pauseAfterFailures'] },
          { guard: 'thisRound', target: 'retrying', actions: 'recordRound' },
        ],
        PAUSE: { guard: 'thisRound', target: 'paused', actions: 'pauseWithReason' },
      },
    },
    retrying: {
      entry: 'lookAfterBackoff',
      exit: 'stopLooking',
      on: {
        POLL: { actions: ['look', 'lookLater'] },
        START: { target: 'delivering', actions: 'takeLease' },
      },
    },
    paused: {
      on: { RESUME: { target: 'active', actions: 'resume' } },
    },
  },
});

export type WebhookMachine = typeof webhookMachine;
