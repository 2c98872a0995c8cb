/**
 * A probe's latency over the last minutes, from the samples its record keeps: one per recorded
 * check (a change of state or latency bucket, and at least one every reportEveryMs), so between
 * two points the latency stayed in the bucket of the first. While the record holds, the last
 * level is drawn on to now; failed checks are red marks on the top edge. The window ends at the
 * hub's clock, so two pages draw the same line at the same moment.
 */
import { For, Show, createMemo } from 'solid-js';
import type { LatencySample } from '../../../machines/probe.js';

const WIDTH = 160;
const HEIGHT = 28;

export function Sparkline(props: { samples: readonly LatencySample[]; now: number; windowMs: number; holds: boolean; reportEveryMs: number }) {
  const from = () => props.now - props.windowMs;
  const x = (at: number) => Math.max(0, Math.min(WIDTH, ((at - from()) / props.windowMs) * WIDTH));
  /** The samples in the window, and the last one before it (its level is where the line starts). */
  const shown = createMemo(() => {
    const inside = props.samples.filter(([at]) => at >= from() && at <= props.now);
    const before = props.samples.filter(([at]) => at < from()).at(-1);
    return before ? [before, ...inside] : inside;
  });
  const answered = createMemo(() => shown().flatMap(([, latency]) => (latency === null ? [] : [latency])));
  const max = createMemo(() => Math.max(1, ...answered()));
  const y = (latency: number) => HEIGHT - 2 - (latency / max()) * (HEIGHT - 6);
  /** Runs of answered checks, each drawn as a step line: a failure breaks it. */
  const paths = createMemo(() => {
    const runs: string[] = [];
    let run = '';
    shown().forEach(([at, latency], index) => {
      if (latency === null) {
        if (run) runs.push(run);
        run = '';
        return;
      }
      const next = shown()[index + 1];
      const until = next ? next[0] : props.holds ? props.now : at;
      run += `${run ? 'L' : 'M'}${x(at).toFixed(1)},${y(latency).toFixed(1)} H${x(until).toFixed(1)} `;
    });
    if (run) runs.push(run);
    return runs;
  });
  const failures = createMemo(() => shown().filter(([at, latency]) => latency === null && at >= from()));
  const minutes = () => Math.round(props.windowMs / 60_000);
  const describe = () => {
    if (shown().length === 0) return `no check recorded in the last ${minutes()} min`;
    const range = answered().length > 0 ? `${Math.min(...answered())} to ${Math.max(...answered())} ms` : 'no answer';
    const failed = failures().length > 0 ? `, ${failures().length} failed check${failures().length === 1 ? '' : 's'} recorded` : '';
    return `latency over the last ${minutes()} min: ${range}${failed}`;
  };
  const tip = () => `${describe()}\nEach point is a recorded check: a change of state or latency bucket, and one at least every ${Math.round(props.reportEveryMs / 1_000)} s.`;
  return (
    <svg class="sparkline" viewBox={`0 0 ${WIDTH} ${HEIGHT}`} width={WIDTH} height={HEIGHT} role="img" aria-label={describe()} data-tip={tip()}>
      <line class="axis" x1="0" x2={WIDTH} y1={HEIGHT - 1} y2={HEIGHT - 1} />
      <For each={paths()}>{(d) => <path class="line" d={d} />}</For>
      <For each={failures()}>{([at]) => <rect class="failure" x={x(at) - 1} y="0" width="2" height="6" />}</For>
      <Show when={shown().length === 0}>
        <text class="none" x={WIDTH / 2} y={HEIGHT / 2 + 4} text-anchor="middle">
          no data
        </text>
      </Show>
    </svg>
  );
}
