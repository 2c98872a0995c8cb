/**
 * A probe (kind `probe`): one dependency the hub checks on a schedule, such as its own store or a
 * service given with `--probe URL` (Redis, PostgreSQL, AMQP, MQTT, NATS, HTTP(S), TCP).
 *
 *   unknown ──CHECKED──> healthy | degraded | unhealthy        (the verdict of that check)
 *   healthy / degraded / unhealthy ──CHECKED, another verdict──> that state
 *   healthy / degraded / unhealthy ──no record for staleAfter──> unknown   (nobody checks it)
 *
 *   verdict: the check failed (refused, errored, timed out, wrong answer)  -> unhealthy
 *            it answered, slower than degradedMs                          -> degraded
 *            it answered within degradedMs                                -> healthy
 *
 * The schedule is a durable timer: CHECK comes every intervalMs, fired by whichever hub takes
 * it from the store (one hub per tick, so several hubs on one store make one check, not one
 * each). CHECK performs the `check` effect, where the hub does the I/O, and sets the next CHECK
 * at once, so a hub that dies during a check does not stop the schedule. The check's outcome
 * comes back as CHECKED. This file does no I/O and reads no clock: times arrive in events.
 *
 * A check changes the record (a log entry, one more seq) only when:
 * - its verdict is another state;
 * - its latency moved to another bucket (LATENCY_EDGES_MS, with a margin so a latency hovering
 *   on an edge does not write every second); failed checks have no latency bucket;
 * - or `reportEveryMs` passed since the last recorded check. This renewal is the proof that
 *   checks still run: every record says until when it holds (`freshUntil`). Past that, a page
 *   shows the probe as stale even when no hub can write anything (the store itself is down),
 *   and any hub still running moves it to `unknown` here. Without it a probe whose checks
 *   stopped would read "healthy" forever, which is how the systems statehub replaces failed.
 * So a healthy system writes one record per probe per reportEveryMs, not one per check. The
 * record's check fields (`checkedAt`, `latencyMs`, `message`, `failures`) describe the last
 * recorded check; the checks in between had the same verdict and bucket.
 */
import { assign, raise, setup } from 'xstate';

/** What can be set per probe. All durations in milliseconds. */
export interface ProbeSettings {
  /** What is checked, for people: the URL without credentials, or the hub's store. */
  target: string;
  /** Time between two checks. */
  intervalMs: number;
  /** A check without an answer by then failed. */
  timeoutMs: number;
  /** A check answering slower than this is degraded. */
  degradedMs: number;
  /** The longest a record goes unrenewed while checks run (see above). */
  reportEveryMs: number;
}

export const PROBE_DEFAULTS: Omit<ProbeSettings, 'target'> = {
  intervalMs: 1_000,
  timeoutMs: 1_000,
  degradedMs: 500,
  reportEveryMs: 10_000,
};

export interface ProbeInput extends ProbeSettings {
  id: string;
}

/** A recorded check's latency: [epoch ms of the check, latency in ms, or null when it failed]. Tuples keep 60 of them near 1 KB. */
export type LatencySample = [at: number, latencyMs: number | null];

export type ProbeState = 'unknown' | 'healthy' | 'degraded' | 'unhealthy';

export interface ProbeContext extends ProbeSettings {
  id: string;
  /** ISO-8601: when the last recorded check started; null before the first. */
  checkedAt: string | null;
  /** Its round trip in ms (to 0.1 ms); null when it failed (it did not answer, or answered wrong: `message` says). */
  latencyMs: number | null;
  /** Its latency bucket (index into LATENCY_EDGES_MS buckets); null when it failed. */
  latencyBucket: number | null;
  /** What it answered (`PONG`, `HTTP 200`), or why it failed. At most MAX_PROBE_MESSAGE characters. */
  message: string;
  /** Consecutive failed checks up to it (0 when it succeeded). */
  failures: number;
  /**
   * ISO-8601: the record holds until then. While checks run, the next record comes before
   * (checkedAt + staleAfterMs); a reader past it must not believe the state. Null while unknown.
   */
  freshUntil: string | null;
  /** Recent recorded checks, oldest first, at most MAX_SAMPLES: what a latency sparkline draws. */
  samples: LatencySample[];
}

export type ProbeEvent =
  /** Time for a check (the durable timer). */
  | { type: 'CHECK' }
  /** A check's outcome: `at` is the epoch ms (store clock) it started, `latencyMs` how long it took (to answer, or to fail). */
  | { type: 'CHECKED'; at: number; ok: boolean; latencyMs: number; message: string }
  /** A hub starts with its settings for this probe: they replace the recorded ones, and a check comes now. */
  | ({ type: 'CONFIGURE' } & ProbeSettings);

/** Upper edges (ms) of the latency buckets; the last bucket is open. A 1-2-5 series: one bucket per doubling or so. */
export const LATENCY_EDGES_MS = [10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000] as const;

/** A latency leaves its bucket only this far past an edge (x1.25 above, x0.8 below). */
const BUCKET_MARGIN = 1.25;

export const MAX_SAMPLES = 60;

/** Probe messages are short: a whole HTML error page must not make every record of the probe big. */
export const MAX_PROBE_MESSAGE = 300;

/** The bucket of a latency: 0 for under 10 ms, 1 for 10 to 20 ms, ... */
export function latencyBucket(latencyMs: number): number {
  const index = LATENCY_EDGES_MS.findIndex((edge) => latencyMs < edge);
  return index === -1 ? LATENCY_EDGES_MS.length : index;
}

/** True when `latencyMs` is clearly outside `bucket` (past an edge by the margin), or there is no bucket. */
export function leavesBucket(bucket: number | null, latencyMs: number): boolean {
  if (bucket === null) return true;
  const lower = bucket === 0 ? 0 : LATENCY_EDGES_MS[bucket - 1]!;
  const upper = LATENCY_EDGES_MS[bucket] ?? Infinity;
  return latencyMs >= upper * BUCKET_MARGIN || latencyMs < lower / BUCKET_MARGIN;
}

/**
 * How long a record holds: one renewal period, plus two checks' worth of interval and timeout
 * for the renewing check to be taken by a hub (another one, if its hub died), run and committed.
 */
export function staleAfterMs(settings: Pick<ProbeSettings, 'intervalMs' | 'timeoutMs' | 'reportEveryMs'>): number {
  return settings.reportEveryMs + 2 * (settings.intervalMs + settings.timeoutMs);
}

function probeVerdict(settings: Pick<ProbeSettings, 'degradedMs'>, check: { ok: boolean; latencyMs: number }): Exclude<ProbeState, 'unknown'> {
  if (!check.ok) return 'unhealthy';
  return check.latencyMs > settings.degradedMs ? 'degraded' : 'healthy';
}

type Checked = Extract<ProbeEvent, { type: 'CHECKED' }>;

const settingsOf = (event: Extract<ProbeEvent, { type: 'CONFIGURE' }>): ProbeSettings => ({
  target: event.target,
  intervalMs: event.intervalMs,
  timeoutMs: event.timeoutMs,
  degradedMs: event.degradedMs,
  reportEveryMs: event.reportEveryMs,
});

const iso = (epochMs: number) => new Date(epochMs).toISOString();

function shortMessage(message: string): string {
  return message.length <= MAX_PROBE_MESSAGE ? message : `${message.slice(0, MAX_PROBE_MESSAGE - 1)}…`;
}

/**
 * Failed checks in a row up to `check`. A streak goes on from the recorded one while that record
 * still held (no gap in the checks); the checks in between were due one per interval and, not
 * having been recorded, failed too (a success would have been a change of state).
 */
function failuresUpTo(context: ProbeContext, check: Checked): number {
  if (check.ok) return 0;
  const since = context.checkedAt === null ? NaN : Date.parse(context.checkedAt);
  const held = context.freshUntil !== null && check.at <= Date.parse(context.freshUntil);
  if (context.failures === 0 || !held) return 1;
  return context.failures + Math.max(1, Math.round((check.at - since) / context.intervalMs));
}

/** What a check records: it, its latency sample, and how long the record holds. */
function recorded(context: ProbeContext, check: Checked): Partial<ProbeContext> {
  // How long a failure took says nothing about the dependency's speed (a timeout is the timeout).
  const latencyMs = check.ok ? Math.round(check.latencyMs * 10) / 10 : null;
  return {
    checkedAt: iso(check.at),
    latencyMs,
    latencyBucket: latencyMs === null ? null : latencyBucket(latencyMs),
    message: shortMessage(check.message),
    failures: failuresUpTo(context, check),
    freshUntil: iso(check.at + staleAfterMs(context)),
    samples: [...context.samples, [check.at, latencyMs] as LatencySample].slice(-MAX_SAMPLES),
  };
}

/**
 * The CHECKED transitions of a state. Every recorded check re-enters its state, which restarts
 * the staleAfter timer: that timer fires only when no record came for that long.
 */
function onChecked(current: ProbeState) {
  return [
    // A slow check's outcome arriving after a later one's was recorded says nothing new.
    { guard: 'outdated' },
    // From unknown, every outcome is news.
    ...(current === 'unknown' ? [] : [{ guard: { type: 'nothingToRecord', params: { current } } } as const]),
    { guard: { type: 'verdictIs', params: { verdict: 'unhealthy' } }, target: 'unhealthy', reenter: true, actions: 'recordCheck' },
    { guard: { type: 'verdictIs', params: { verdict: 'degraded' } }, target: 'degraded', reenter: true, actions: 'recordCheck' },
    { target: 'healthy', reenter: true, actions: 'recordCheck' },
  ] as const;
}

/** Nobody recorded a check for staleAfter: the state is no longer known. */
const checksStopped = {
  target: 'unknown',
  actions: ['markStale', 'scheduleCheckNow'],
} as const;

export const probeMachine = setup({
  types: {
    context: {} as ProbeContext,
    events: {} as ProbeEvent,
    input: {} as ProbeInput,
  },
  delays: {
    interval: ({ context }) => context.intervalMs,
    staleAfter: ({ context }) => staleAfterMs(context),
  },
  guards: {
    outdated: ({ context, event }) => event.type === 'CHECKED' && context.checkedAt !== null && event.at <= Date.parse(context.checkedAt),
    verdictIs: ({ context, event }, params: { verdict: ProbeState }) => event.type === 'CHECKED' && probeVerdict(context, event) === params.verdict,
    /** Same verdict, same latency bucket (for answers), and the record is not due for renewal. */
    nothingToRecord: ({ context, event }, params: { current: ProbeState }) => {
      if (event.type !== 'CHECKED' || context.checkedAt === null) return false;
      if (probeVerdict(context, event) !== params.current) return false;
      if (event.ok && leavesBucket(context.latencyBucket, event.latencyMs)) return false;
      return event.at < Date.parse(context.checkedAt) + context.reportEveryMs;
    },
  },
  actions: {
    /** Effect: run the check (the hub's I/O) and send its outcome back as CHECKED. */
    check: () => {},
    recordCheck: assign(({ context, event }) => (event.type === 'CHECKED' ? recorded(context, event) : {})),
    markStale: assign(({ context }) => ({
      message: `checks stopped: none recorded since ${context.checkedAt ?? 'the start'}`,
      freshUntil: null,
    })),
    configure: assign(({ event }) => (event.type === 'CONFIGURE' ? settingsOf(event) : {})),
    // Same id: each replaces the pending CHECK timer, so there is never more than one.
    scheduleCheck: raise({ type: 'CHECK' }, { id: 'check', delay: 'interval' }),
    scheduleCheckNow: raise({ type: 'CHECK' }, { id: 'check', delay: 0 }),
  },
}).createMachine({
  id: 'probe',
  context: ({ input }) => ({
    ...input,
    checkedAt: null,
    latencyMs: null,
    latencyBucket: null,
    message: 'not checked yet',
    failures: 0,
    freshUntil: null,
    samples: [],
  }),
  entry: 'scheduleCheckNow',
  on: {
    CHECK: { actions: ['scheduleCheck', 'check'] },
    CONFIGURE: { actions: ['configure', 'scheduleCheckNow'] },
  },
  initial: 'unknown',
  states: {
    unknown: {
      on: { CHECKED: onChecked('unknown') },
    },
    healthy: {
      after: { staleAfter: checksStopped },
      on: { CHECKED: onChecked('healthy') },
    },
    degraded: {
      after: { staleAfter: checksStopped },
      on: { CHECKED: onChecked('degraded') },
    },
    unhealthy: {
      after: { staleAfter: checksStopped },
      on: { CHECKED: onChecked('unhealthy') },
    },
  },
});

export type ProbeMachine = typeof probeMachine;
