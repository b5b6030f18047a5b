import type { DashboardStats } from "./api/client";
import { formatPercent } from "./format";

/** Fixed-size buffer keeping the newest `capacity` items in insertion order. */
export class RingBuffer<T> {
  readonly capacity: number;
  #items: T[] = [];
  #start = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
    }
    this.capacity = capacity;
  }

  get size(): number {
    return this.#items.length;
  }

  push(item: T): void {
    if (this.#items.length < this.capacity) {
      this.#items.push(item);
    } else {
      this.#items[this.#start] = item;
      this.#start = (this.#start + 1) % this.capacity;
    }
  }

  /** Items oldest first. */
  toArray(): T[] {
    return [...this.#items.slice(this.#start), ...this.#items.slice(0, this.#start)];
  }
}

/** The parts of a stats sample that rates are computed from. */
export type StatsSample = {
  at_ms: number;
  cpu_seconds: number | null;
  rss_bytes: number | null;
  events_total: number;
};

export function sampleOf(stats: DashboardStats): StatsSample {
  return {
    at_ms: stats.sampled_at_ms,
    cpu_seconds: stats.process.cpu_seconds,
    rss_bytes: stats.process.rss_bytes,
    events_total: stats.events_total,
  };
}

/**
 * Change per second of a counter between two samples; null when it cannot be
 * known (no time passed, or the counter went back because the node restarted).
 */
export function ratePerSecond(
  previous: number,
  next: number,
  previousMs: number,
  nextMs: number,
): number | null {
  const elapsedS = (nextMs - previousMs) / 1000;
  const delta = next - previous;
  if (!(elapsedS > 0) || delta < 0) return null;
  return delta / elapsedS;
}

/** Process CPU use in percent of one core between two samples; null when unknown. */
export function cpuPercent(previous: StatsSample, next: StatsSample): number | null {
  if (previous.cpu_seconds === null || next.cpu_seconds === null) return null;
  const rate = ratePerSecond(previous.cpu_seconds, next.cpu_seconds, previous.at_ms, next.at_ms);
  return rate === null ? null : rate * 100;
}

/** "—" until there are two samples, "unknown" when the node cannot measure CPU time. */
export function cpuLabel(previous: StatsSample | null, next: StatsSample | null): string {
  if (!previous || !next) return "—";
  const percent = cpuPercent(previous, next);
  return percent === null ? "unknown" : formatPercent(percent);
}

/** One point of the overview sparklines, derived from two consecutive samples. */
export type TrendPoint = {
  t_s: number;
  rss_bytes: number | null;
  cpu_percent: number | null;
  events_per_s: number | null;
};

export function trendPoint(previous: StatsSample | null, next: StatsSample): TrendPoint {
  return {
    t_s: next.at_ms / 1000,
    rss_bytes: next.rss_bytes,
    cpu_percent: previous ? cpuPercent(previous, next) : null,
    events_per_s: previous
      ? ratePerSecond(previous.events_total, next.events_total, previous.at_ms, next.at_ms)
      : null,
  };
}

/** Column-wise arrays for a chart: x (seconds) and one y series. */
export function seriesColumns(
  points: readonly TrendPoint[],
  pick: (point: TrendPoint) => number | null,
): [number[], (number | null)[]] {
  return [points.map((p) => p.t_s), points.map(pick)];
}
