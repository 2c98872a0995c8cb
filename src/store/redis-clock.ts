/**
 * Redis's clock (its TIME command): the one clock every hub sharing a Redis reads, whatever its
 * own machine's clock says. A hub keeps its offset to it, measured over a round trip (half the
 * round trip is the error), and reads it as its own clock plus that offset. The reading never
 * goes back, and moves forward when a commit shows another hub's reading was ahead.
 */
import type { Redis } from 'ioredis';

/** A sample whose round trip took longer than this says too little about the offset. */
const MAX_ROUND_TRIP_MS = 100;

export class RedisClock {
  /** Redis's time minus this process's, in ms. */
  private offset = 0;
  private last = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly redis: Pick<Redis, 'time'>) {}

  /** Measures the offset (the best of a few round trips), then again every `intervalMs` (the process clock may be stepped). */
  async start(intervalMs = 5_000): Promise<void> {
    let best: Sample | undefined;
    for (let round = 0; round < 3; round++) {
      const sample = await this.sample();
      if (!best || sample.roundTrip < best.roundTrip) best = sample;
    }
    this.offset = (best as Sample).offset;
    this.timer = setInterval(() => void this.refresh(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Epoch ms on Redis's clock, as this process reads it: never less than before. */
  now(): number {
    this.last = Math.max(this.last, Date.now() + this.offset);
    return this.last;
  }

  /** Another hub stamped the log at `ms`: this reading was behind; read later from now on. */
  advanceTo(ms: number): void {
    const behind = ms - (Date.now() + this.offset);
    if (behind >= 0) this.offset += behind + 1;
  }

  private async refresh(): Promise<void> {
    const sample = await this.sample().catch(() => undefined);
    if (sample && sample.roundTrip <= MAX_ROUND_TRIP_MS) this.offset = sample.offset;
  }

  /** One TIME round trip: the offset it shows, and how long it took. */
  private async sample(): Promise<Sample> {
    const sent = Date.now();
    const [seconds, micros] = await this.redis.time();
    const received = Date.now();
    return { offset: Math.round(Number(seconds) * 1000 + Number(micros) / 1000 - (sent + received) / 2), roundTrip: received - sent };
  }
}

interface Sample {
  offset: number;
  roundTrip: number;
}
