import { describe, expect, it } from "vitest";
import type { DashboardStats } from "./api/client";
import {
  RingBuffer,
  cpuLabel,
  cpuPercent,
  ratePerSecond,
  sampleOf,
  seriesColumns,
  trendPoint,
  type StatsSample,
} from "./series";

const sample = (at_ms: number, cpu_seconds: number | null, events_total = 0): StatsSample => ({
  at_ms,
  cpu_seconds,
  rss_bytes: 1024,
  events_total,
});

describe("RingBuffer", () => {
  it("keeps the newest items in order", () => {
    const ring = new RingBuffer<number>(3);
    expect(ring.toArray()).toEqual([]);
    [1, 2].forEach((n) => ring.push(n));
    expect(ring.toArray()).toEqual([1, 2]);
    [3, 4, 5].forEach((n) => ring.push(n));
    expect(ring.toArray()).toEqual([3, 4, 5]);
    expect(ring.size).toBe(3);
  });

  it("rejects a capacity below one", () => {
    expect(() => new RingBuffer(0)).toThrow(RangeError);
  });
});

describe("ratePerSecond", () => {
  it("divides the change by the elapsed time", () => {
    expect(ratePerSecond(10, 30, 0, 4000)).toBe(5);
  });

  it("is unknown when no time passed or the counter went back", () => {
    expect(ratePerSecond(10, 30, 1000, 1000)).toBeNull();
    expect(ratePerSecond(30, 10, 0, 2000)).toBeNull();
  });
});

describe("CPU percent", () => {
  it("is CPU seconds used per wall second", () => {
    expect(cpuPercent(sample(0, 1.0), sample(2000, 1.5))).toBeCloseTo(25);
    // Several busy cores exceed 100 %.
    expect(cpuPercent(sample(0, 0), sample(1000, 2))).toBeCloseTo(200);
  });

  it("is unknown when the node cannot measure CPU time", () => {
    expect(cpuPercent(sample(0, null), sample(2000, 1))).toBeNull();
    expect(cpuPercent(sample(0, 1), sample(2000, null))).toBeNull();
  });

  it("labels the pending, unknown and known cases", () => {
    expect(cpuLabel(null, sample(0, 1))).toBe("—");
    expect(cpuLabel(sample(0, null), sample(2000, null))).toBe("unknown");
    expect(cpuLabel(sample(0, 1), sample(2000, 1.2))).toBe("10.0 %");
  });
});

describe("trend points", () => {
  const stats: DashboardStats = {
    uptime_s: 10,
    services_running: 1,
    services_built: 2,
    services_not_available: 3,
    events_total: 40,
    event_subscribers: 1,
    db_size_bytes: 4096,
    http_requests_total: 7,
    process: { rss_bytes: 2048, cpu_seconds: 3, threads: 4 },
    sampled_at_ms: 10_000,
  };

  it("takes the sample from dashboard stats", () => {
    expect(sampleOf(stats)).toEqual({ at_ms: 10_000, cpu_seconds: 3, rss_bytes: 2048, events_total: 40 });
  });

  it("has no rates for the first sample", () => {
    expect(trendPoint(null, sample(2000, 1, 10))).toEqual({
      t_s: 2,
      rss_bytes: 1024,
      cpu_percent: null,
      events_per_s: null,
    });
  });

  it("derives rates from consecutive samples", () => {
    const point = trendPoint(sample(0, 1, 10), sample(2000, 1.5, 20));
    expect(point.cpu_percent).toBeCloseTo(25);
    expect(point.events_per_s).toBe(5);
  });

  it("splits points into chart columns", () => {
    const points = [trendPoint(null, sample(1000, 1, 0)), trendPoint(sample(1000, 1, 0), sample(3000, 1, 4))];
    expect(seriesColumns(points, (p) => p.events_per_s)).toEqual([[1, 3], [null, 2]]);
  });
});
