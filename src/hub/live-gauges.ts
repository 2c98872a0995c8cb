/**
 * The gauges of /metrics that count actors: a function of the live set (live-set.ts) read at
 * scrape time, never counters kept beside it, so they cannot drift from the records, and every
 * hub on one store reports the same values once its log delivery has caught up. A scrape walks
 * the groups of (kind, state, type) and the probes, not the actors: its cost does not grow with
 * the number of jobs.
 */
import { Gauge, type Registry } from 'prom-client';
import { KINDS, type ActorRecord } from '../protocol/record.js';
import { STATES, type ProbeContext } from '../protocol/states.js';
import type { Group, LiveSet } from './live-set.js';

type Labels<L extends string> = Partial<Record<L, string>>;

/**
 * A gauge recomputed at each scrape: zero for each of `zeros(groups)`, then each group's count
 * added to the series `pick` names (none: not counted here).
 */
function groupGauge<L extends string>(
  registry: Registry,
  live: LiveSet,
  definition: { name: string; help: string; labelNames: readonly L[] },
  zeros: (groups: Group[]) => Array<Labels<L>>,
  pick: (group: Group) => Labels<L> | undefined,
): void {
  const gauge: Gauge<L> = new Gauge({
    ...definition,
    registers: [registry],
    collect() {
      const groups = [...live.groups()];
      gauge.reset();
      for (const labels of zeros(groups)) gauge.set(labels, 0);
      for (const group of groups) {
        const labels = pick(group);
        if (labels) gauge.inc(labels, group.count);
      }
    },
  });
}

/** Every state of `kind` crossed with each type that live actors of `kind` have now. */
function statesByType(kind: 'job' | 'connector', typeLabel: (type: string) => string) {
  return (groups: Group[]) => {
    const types = new Set(groups.filter((group) => group.kind === kind).map((group) => typeLabel(group.type)));
    return [...types].flatMap((type) => STATES[kind].map((state) => ({ state, type })));
  };
}

/** Registers the actor-counting gauges in `registry`. */
export function registerLiveGauges(registry: Registry, live: LiveSet, typeLabel: (type: string) => string): void {
  groupGauge(
    registry,
    live,
    { name: 'statehub_actors', help: 'Live actors by kind and state.', labelNames: ['kind', 'state'] },
    () => KINDS.flatMap((kind) => STATES[kind].map((state) => ({ kind, state }))),
    ({ kind, state }) => ({ kind, state }),
  );
  const byType = [
    ['job', 'statehub_jobs', 'Live jobs by state and type (finished jobs stay in the live set for --keep-finished-ms).'],
    ['connector', 'statehub_connectors', 'Connectors by state and type.'],
  ] as const;
  for (const [kind, name, help] of byType) {
    groupGauge(registry, live, { name, help, labelNames: ['state', 'type'] }, statesByType(kind, typeLabel), (group) =>
      group.kind === kind ? { state: group.state, type: typeLabel(group.type) } : undefined,
    );
  }
  groupGauge(
    registry,
    live,
    { name: 'statehub_workers', help: 'Workers by state.', labelNames: ['state'] },
    () => STATES.worker.map((state) => ({ state })),
    ({ kind, state }) => (kind === 'worker' ? { state } : undefined),
  );
  registerProbeGauges(registry, live);
}

/**
 * Probes (kind `probe`, one per checked dependency) read generically from their records: the
 * state they are in, and `snapshot.context.latencyMs`.
 */
function registerProbeGauges(registry: Registry, live: LiveSet): void {
  const probes = new Map<string, ActorRecord>();
  live.listen({
    reset(records) {
      probes.clear();
      for (const record of records) if (record.kind === 'probe') probes.set(record.id, record);
    },
    change({ record }) {
      if (record.kind !== 'probe') return;
      if (record.removed) probes.delete(record.id);
      else probes.set(record.id, record);
    },
  });
  const states = new Gauge({
    name: 'statehub_probe_state',
    help: 'Each probe\'s state: 1 for the state it is in, 0 for the others.',
    labelNames: ['probe', 'state'],
    registers: [registry],
    collect() {
      states.reset();
      for (const probe of probes.values()) {
        for (const state of STATES.probe) states.set({ probe: probe.id, state }, 0);
        states.set({ probe: probe.id, state: probe.state }, 1);
      }
    },
  });
  const latency = new Gauge({
    name: 'statehub_probe_latency_seconds',
    help: 'Each probe\'s last check round trip (absent while the dependency does not answer).',
    labelNames: ['probe'],
    registers: [registry],
    collect() {
      latency.reset();
      for (const probe of probes.values()) {
        const { latencyMs } = probe.snapshot.context as ProbeContext;
        if (typeof latencyMs === 'number' && Number.isFinite(latencyMs)) latency.set({ probe: probe.id }, latencyMs / 1_000);
      }
    },
  });
}
