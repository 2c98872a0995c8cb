/**
 * Jobs completed and failed per 10 s over the last 15 minutes, as stacked bars. The window ends
 * at this page's clock, not at the moment the counts were read, so two pages showing the same
 * counts at the same time draw the same chart.
 */
import { For, createMemo } from 'solid-js';
import { clock } from '../format.js';

export interface Bucket {
  at: string;
  completed: number;
  failed: number;
}

export function ThroughputChart(props: { buckets: Bucket[]; bucketMs: number; now: number }) {
  const width = 540;
  const height = 96;
  const buckets = createMemo(() => slotsUntil(props.buckets, props.bucketMs, props.now));
  const max = createMemo(() => Math.max(1, ...buckets().map((bucket) => bucket.completed + bucket.failed)));
  const bar = () => width / Math.max(1, buckets().length);
  const y = (value: number) => (value / max()) * (height - 14);
  const totals = createMemo(() => ({
    completed: buckets().reduce((sum, bucket) => sum + bucket.completed, 0),
    failed: buckets().reduce((sum, bucket) => sum + bucket.failed, 0),
  }));
  const recentRate = createMemo(() => {
    const last = buckets().slice(-7, -1);
    const done = last.reduce((sum, bucket) => sum + bucket.completed, 0);
    return last.length === 0 ? 0 : done / ((last.length * props.bucketMs) / 1000);
  });
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${width} ${height}`} preserveAspectRatio="none" role="img" aria-label={`${totals().completed} completed and ${totals().failed} failed in the last 15 minutes`}>
        <For each={buckets()}>
          {(bucket, index) => (
            <g>
              <title>{`${clock(bucket.at)}: ${bucket.completed} completed, ${bucket.failed} failed`}</title>
              <rect class="bar-completed" x={index() * bar() + 0.5} width={Math.max(1, bar() - 1)} y={height - y(bucket.completed)} height={y(bucket.completed)} />
              <rect class="bar-failed" x={index() * bar() + 0.5} width={Math.max(1, bar() - 1)} y={height - y(bucket.completed) - y(bucket.failed)} height={y(bucket.failed)} />
            </g>
          )}
        </For>
      </svg>
      <div class="axis" aria-hidden="true">
        <span>15 min ago</span>
        <span>
          tallest bar: {max()} {max() === 1 ? 'job' : 'jobs'} in {props.bucketMs / 1000} s
        </span>
        <span>now</span>
      </div>
      <figcaption>
        last 15 min: <strong>{totals().completed.toLocaleString()}</strong> completed, <strong class="error">{totals().failed.toLocaleString()}</strong> failed ·{' '}
        {recentRate().toFixed(1)} jobs/s lately
      </figcaption>
    </figure>
  );
}

/** As many buckets as the hub sent, ending with the one `now` falls in; counts the hub has not sent yet are 0. */
function slotsUntil(buckets: Bucket[], bucketMs: number, now: number): Bucket[] {
  const counts = new Map(buckets.map((bucket) => [Date.parse(bucket.at), bucket]));
  const last = Math.floor(now / bucketMs) * bucketMs;
  const slots: Bucket[] = [];
  for (let at = last - (buckets.length - 1) * bucketMs; at <= last; at += bucketMs) {
    const known = counts.get(at);
    slots.push({ at: new Date(at).toISOString(), completed: known?.completed ?? 0, failed: known?.failed ?? 0 });
  }
  return slots;
}
