import { describe, expect, it } from "vitest";
import {
  compactJson,
  formatAgo,
  formatBytes,
  formatCount,
  formatDateTime,
  formatDuration,
  formatLatency,
  formatPercent,
  formatRate,
  formatTime,
  shortId,
} from "./format";

describe("formatBytes", () => {
  it("uses binary units", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(1023)).toBe("1023 B");
    expect(formatBytes(1024)).toBe("1.0 KiB");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(5 * 1024 ** 2)).toBe("5.0 MiB");
    expect(formatBytes(3.25 * 1024 ** 3)).toBe("3.3 GiB");
    expect(formatBytes(2 * 1024 ** 4)).toBe("2.0 TiB");
  });

  it("says unknown for null", () => {
    expect(formatBytes(null)).toBe("unknown");
    expect(formatBytes(Number.NaN)).toBe("unknown");
  });
});

describe("formatDuration", () => {
  it("picks units by size and pads the smaller ones", () => {
    expect(formatDuration(0)).toBe("0s");
    expect(formatDuration(42.9)).toBe("42s");
    expect(formatDuration(307)).toBe("5m 07s");
    expect(formatDuration(3 * 3600 + 4 * 60 + 5)).toBe("3h 04m 05s");
    expect(formatDuration(2 * 86400 + 3 * 3600 + 4 * 60 + 5)).toBe("2d 03h 04m 05s");
  });

  it("refuses negative or non-finite durations", () => {
    expect(formatDuration(-1)).toBe("—");
    expect(formatDuration(Number.POSITIVE_INFINITY)).toBe("—");
  });
});

describe("numbers", () => {
  it("formats percentages, counts and rates", () => {
    expect(formatPercent(12.345)).toBe("12.3 %");
    expect(formatPercent(180)).toBe("180.0 %");
    expect(formatCount(1234567)).toBe("1,234,567");
    expect(formatCount(null)).toBe("unknown");
    expect(formatRate(0)).toBe("0/s");
    expect(formatRate(0.25)).toBe("0.25/s");
    expect(formatRate(42.4)).toBe("42/s");
  });
});

describe("timestamps", () => {
  it("formats local wall-clock time", () => {
    const ms = new Date(2024, 0, 5, 7, 8, 9).getTime();
    expect(formatTime(ms)).toBe("07:08:09");
    expect(formatDateTime(ms)).toBe("2024-01-05 07:08:09");
  });
});

describe("formatAgo", () => {
  const now = 1_000_000_000;

  it("says how long ago, in the largest whole unit", () => {
    expect(formatAgo(now - 500, now)).toBe("just now");
    expect(formatAgo(now - 42_000, now)).toBe("42s ago");
    expect(formatAgo(now - 5 * 60_000 - 59_000, now)).toBe("5m ago");
    expect(formatAgo(now - 3 * 3_600_000, now)).toBe("3h ago");
    expect(formatAgo(now - 47 * 3_600_000, now)).toBe("47h ago");
    expect(formatAgo(now - 3 * 86_400_000, now)).toBe("3d ago");
  });

  it("never says the future", () => {
    expect(formatAgo(now + 10_000, now)).toBe("just now");
    expect(formatAgo(Number.NaN, now)).toBe("—");
  });
});

describe("shortId", () => {
  it("keeps short ids and shortens long ones", () => {
    expect(shortId("abc")).toBe("abc");
    expect(shortId("12D3KooWAbCdEfGhIjKlMnOpQrStUv")).toBe("12D3Ko…QrStUv");
  });
});

describe("compactJson", () => {
  it("renders values on one line", () => {
    expect(compactJson({ a: 1, b: [true, null] })).toBe('{"a":1,"b":[true,null]}');
    expect(compactJson(null)).toBe("null");
    expect(compactJson(undefined)).toBe("");
  });

  it("cuts long values", () => {
    const text = compactJson({ text: "x".repeat(50) }, 20);
    expect(text).toHaveLength(20);
    expect(text.endsWith("…")).toBe(true);
  });

  it("survives values JSON cannot represent", () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(compactJson(cyclic)).toBe("[object Object]");
  });
});

describe("formatLatency", () => {
  it("shows milliseconds with one decimal", () => {
    expect(formatLatency(0)).toBe("0.0 ms");
    expect(formatLatency(1.25)).toBe("1.3 ms");
    expect(formatLatency(12.34)).toBe("12.3 ms");
    expect(formatLatency(1500)).toBe("1500.0 ms");
  });

  it("shows a dash before the first ping", () => {
    expect(formatLatency(null)).toBe("—");
    expect(formatLatency(Number.NaN)).toBe("—");
  });
});
