/** Jobs completed and failed per 10 s over the last 15 minutes: the monitor's throughput chart (`GET /api/throughput`). */

/** Jobs finished per time bucket, oldest first. */
export interface Throughput {
  bucketMs: number;
  buckets: Array<{ at: string; completed: number; failed: number }>;
}

const BUCKET_MS = 10_000;
const BUCKETS = 90; // 15 minutes

export class ThroughputCounter {
  /** Bucket start (ms) -> [completed, failed], oldest first. */
  private readonly recent = new Map<number, [number, number]>();

  /** A job completed or failed at `at` (epoch ms, the store's clock). */
  count(at: number, outcome: 'completed' | 'failed'): void {
    const bucket = Math.floor(at / BUCKET_MS) * BUCKET_MS;
    let counts = this.recent.get(bucket);
    if (!counts) {
      this.recent.set(bucket, (counts = [0, 0]));
      for (const old of this.recent.keys()) {
        if (old > bucket - BUCKETS * BUCKET_MS) break;
        this.recent.delete(old);
      }
    }
    counts[outcome === 'completed' ? 0 : 1] += 1;
  }

  /** The last 15 minutes up to `now` (epoch ms), empty buckets included. */
  read(now: number): Throughput {
    const last = Math.floor(now / BUCKET_MS) * BUCKET_MS;
    const buckets = [];
    for (let at = last - (BUCKETS - 1) * BUCKET_MS; at <= last; at += BUCKET_MS) {
      const [completed, failed] = this.recent.get(at) ?? [0, 0];
      buckets.push({ at: new Date(at).toISOString(), completed, failed });
    }
    return { bucketMs: BUCKET_MS, buckets };
  }
}
