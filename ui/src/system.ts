/**
 * What the System page shows, as functions of the probe, worker and machine records and the
 * hub's clock (nothing else: a page that adds facts of its own drifts from the hub).
 *
 * A probe's record is written when its state or latency bucket changes, and renewed at least
 * every reportEveryMs while checks run (machines/probe.ts); each record says until when it
 * holds (`freshUntil`). So, at time `now`:
 * - while `now` is before `freshUntil`, the probe is in the record's state, and its last check
 *   is the last one due on its schedule (every intervalMs from the recorded check): a check
 *   with another verdict or latency bucket would have written a record;
 * - after it, the checks stopped (no hub runs them, or the store that holds the records is
 *   down, or this page stopped hearing from the hub): the state is unknown, and the last check
 *   is the last recorded one. A probe that nobody checks reads unknown within freshUntil, never
 *   "healthy" forever.
 */
import type { ProbeContext, ProbeState } from '../../machines/probe.js';
import { stateSince, type ActorRecord } from '../../src/protocol/record.js';
import { ago, plural } from './format.js';

export interface ProbeView {
  id: string;
  record: ActorRecord;
  context: Partial<ProbeContext>;
  /** The record's state while it holds; `unknown` once it does not. */
  state: ProbeState;
  /** The record no longer holds: no check has been recorded for longer than its checks allow. */
  stale: boolean;
  /** Epoch ms of the last check (see above); undefined before the first. */
  lastCheckAt: number | undefined;
}

const PROBE_STATES: readonly string[] = ['unknown', 'healthy', 'degraded', 'unhealthy'];

export function probeView(record: ActorRecord, now: number): ProbeView {
  const context = record.snapshot.context as Partial<ProbeContext>;
  const recordedState = (PROBE_STATES.includes(record.state) ? record.state : 'unknown') as ProbeState;
  const checkedAt = context.checkedAt ? Date.parse(context.checkedAt) : undefined;
  const freshUntil = context.freshUntil ? Date.parse(context.freshUntil) : undefined;
  // A probe in a known state always says until when; one that does not is not believed.
  const stale = recordedState !== 'unknown' && !(freshUntil !== undefined && now <= freshUntil);
  const interval = context.intervalMs ?? 0;
  let lastCheckAt = checkedAt;
  if (checkedAt !== undefined && !stale && recordedState !== 'unknown' && interval > 0) {
    lastCheckAt = checkedAt + Math.max(0, Math.floor((now - checkedAt) / interval)) * interval;
  }
  return { id: record.id, record, context, state: stale ? 'unknown' : recordedState, stale, lastCheckAt };
}

export type Health = 'healthy' | 'degraded' | 'unhealthy' | 'unknown';

/** Live workers and machines by state. */
export interface PresenceCounts {
  workers: Record<string, number>;
  machines: Record<string, number>;
}

export interface SystemHealth {
  health: Health;
  /** Why it is not healthy, the most serious first; empty when it is. */
  reasons: string[];
}

const ms = (value: number | null | undefined) => (value == null ? '?' : `${value.toLocaleString()} ms`);

/**
 * One word for the whole system: unhealthy when a probe is; else unknown when a probe's state
 * is not known (it includes stale ones: a check that stopped is a problem, not a pass); else
 * degraded when a probe is slow or a worker stopped heartbeating (stale); else healthy. Offline
 * workers and machines are not a problem: a worker stopped on purpose is offline.
 */
export function systemHealth(probes: readonly ProbeView[], presence: PresenceCounts, now: number): SystemHealth {
  const unhealthy = probes.filter((probe) => probe.state === 'unhealthy');
  const unknown = probes.filter((probe) => probe.state === 'unknown');
  const degraded = probes.filter((probe) => probe.state === 'degraded');
  const staleWorkers = presence.workers.stale ?? 0;
  const reasons = [
    ...unhealthy.map((probe) => `${probe.id} became unhealthy ${ago(stateSince(probe.record), now)}: ${probe.context.message ?? ''}`),
    ...(probes.length === 0 ? ['no probe reports: this hub runs no probes'] : []),
    ...unknown.map((probe) =>
      probe.stale
        ? `${probe.id}: last check recorded ${ago(probe.context.checkedAt ?? undefined, now)}; its checks stopped`
        : `${probe.id} unknown: ${probe.context.message ?? ''}`,
    ),
    ...degraded.map((probe) => `${probe.id} degraded: answered in ${ms(probe.context.latencyMs)}, over ${ms(probe.context.degradedMs)}`),
    ...(staleWorkers > 0 ? [`${plural(staleWorkers, 'worker')} stale: heartbeats missed`] : []),
  ];
  const health: Health =
    unhealthy.length > 0 ? 'unhealthy' : unknown.length > 0 || probes.length === 0 ? 'unknown' : degraded.length > 0 || staleWorkers > 0 ? 'degraded' : 'healthy';
  return { health, reasons };
}
