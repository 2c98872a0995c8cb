/**
 * A latency histogram that several processes fill and one merges: fixed 10 us buckets up to
 * 2 s (exact enough for a p99 in ms with two decimals), exact values beyond. Millions of samples
 * cost a few hundred KB and cross an IPC channel as one typed array.
 */

const BUCKET_MS = 0.01;
const BUCKETS = 200_000; // 2 s

export interface HistogramData {
  buckets: Uint32Array;
  /** Samples past the last bucket, exact. */
  overflow: number[];
  count: number;
  min: number;
  max: number;
  sum: number;
}

export class Histogram {
  private data: HistogramData = { buckets: new Uint32Array(BUCKETS), overflow: [], count: 0, min: Infinity, max: -Infinity, sum: 0 };

  static from(data: HistogramData): Histogram {
    const histogram = new Histogram();
    histogram.data = { ...data, buckets: new Uint32Array(data.buckets), overflow: [...data.overflow] };
    return histogram;
  }

  get count(): number {
    return this.data.count;
  }

  get max(): number {
    return this.data.count === 0 ? Number.NaN : this.data.max;
  }

  get min(): number {
    return this.data.count === 0 ? Number.NaN : this.data.min;
  }

  get mean(): number {
    return this.data.count === 0 ? Number.NaN : this.data.sum / this.data.count;
  }

  record(ms: number): void {
    const data = this.data;
    data.count += 1;
    data.sum += ms;
    if (ms < data.min) data.min = ms;
    if (ms > data.max) data.max = ms;
    // Clock noise between processes can make a sub-10-us latency slightly negative: bucket 0.
    const index = ms <= 0 ? 0 : Math.floor(ms / BUCKET_MS);
    if (index < BUCKETS) data.buckets[index] = (data.buckets[index] ?? 0) + 1;
    else data.overflow.push(ms);
  }

  merge(other: Histogram | HistogramData): void {
    const from = other instanceof Histogram ? other.data : other;
    const data = this.data;
    for (let index = 0; index < BUCKETS; index++) {
      const n = from.buckets[index] ?? 0;
      if (n !== 0) data.buckets[index] = (data.buckets[index] ?? 0) + n;
    }
    for (const value of from.overflow) data.overflow.push(value);
    data.count += from.count;
    data.sum += from.sum;
    data.min = Math.min(data.min, from.min);
    data.max = Math.max(data.max, from.max);
  }

  /** The value below which a fraction `q` of the samples lie (bucket upper bound, capped at the max). */
  quantile(q: number): number {
    const data = this.data;
    if (data.count === 0) return Number.NaN;
    const rank = Math.min(data.count - 1, Math.floor(q * data.count));
    let seen = 0;
    for (let index = 0; index < BUCKETS; index++) {
      seen += data.buckets[index] ?? 0;
      if (seen > rank) return Math.min(data.max, (index + 1) * BUCKET_MS);
    }
    const sorted = [...data.overflow].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, rank - seen)] ?? data.max;
  }

  toData(): HistogramData {
    return this.data;
  }
}
