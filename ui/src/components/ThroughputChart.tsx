/** Jobs completed and failed per 10 s over the last 15 minutes, as stacked bars. */
import { For, createMemo } from 'solid-js';

export interface Bucket {
  at: string;
  completed: number;
  failed: number;
}

export function ThroughputChart(props: { buckets: Bucket[]; bucketMs: number }) {
  const width = 540;
  const height = 96;
  const max = createMemo(() => Math.max(1, ...props.buckets.map((bucket) => bucket.completed + bucket.failed)));
  const bar = () => width / Math.max(1, props.buckets.length);
  const y = (value: number) => (value / max()) * (height - 14);
  const totals = createMemo(() => ({
    completed: props.buckets.reduce((sum, bucket) => sum + bucket.completed, 0),
    failed: props.buckets.reduce((sum, bucket) => sum + bucket.failed, 0),
  }));
  const recentRate = createMemo(() => {
    const last = props.buckets.slice(-7, -1);
    const done = last.reduce((sum, bucket) => sum + bucket.completed, 0);
    return last.length === 0 ? 0 : done / ((last.length * props.bucketMs) / 1000);
  });
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${width} ${height}`} preserveAspectRatio="none" role="img" aria-label={`${totals().completed} completed and ${totals().failed} failed in the last 15 minutes`}>
        <For each={props.buckets}>
          {(bucket, index) => (
            <g>
              <title>{`${bucket.at.slice(11, 19)}: ${bucket.completed} completed, ${bucket.failed} failed`}</title>
              <rect class="bar-completed" x={index() * bar() + 0.5} width={Math.max(1, bar() - 1)} y={height - y(bucket.completed)} height={y(bucket.completed)} />
              <rect class="bar-failed" x={index() * bar() + 0.5} width={Math.max(1, bar() - 1)} y={height - y(bucket.completed) - y(bucket.failed)} height={y(bucket.failed)} />
            </g>
          )}
        </For>
      </svg>
      <figcaption>
        last 15 min: <strong>{totals().completed.toLocaleString()}</strong> completed, <strong class="error">{totals().failed.toLocaleString()}</strong> failed ·{' '}
        {recentRate().toFixed(1)} jobs/s lately
      </figcaption>
    </figure>
  );
}
