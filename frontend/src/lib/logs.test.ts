import { describe, expect, it } from "vitest";
import { filterLogLines, lineLevel, stripAnsi } from "./logs";

const LINES = [
  "2024-01-01T00:00:00Z  INFO fog_node: started",
  "2024-01-01T00:00:01Z  WARN fog_node::api: slow request",
  "2024-01-01T00:00:02Z ERROR fog_store: disk full",
  "2024-01-01T00:00:03Z DEBUG fog_node: tick",
];

describe("filterLogLines", () => {
  it("keeps everything without filters", () => {
    expect(filterLogLines(LINES, null, "  ")).toEqual(LINES);
  });

  it("filters by level name", () => {
    expect(filterLogLines(LINES, "WARN", "")).toEqual([LINES[1]]);
    expect(filterLogLines(LINES, "TRACE", "")).toEqual([]);
  });

  it("filters by text, ignoring case", () => {
    expect(filterLogLines(LINES, null, "FOG_NODE")).toHaveLength(3);
    expect(filterLogLines(LINES, "INFO", "started")).toEqual([LINES[0]]);
    expect(filterLogLines(LINES, "INFO", "disk")).toEqual([]);
  });
});

describe("line helpers", () => {
  it("finds the level that appears first", () => {
    expect(lineLevel(LINES[2] ?? "")).toBe("ERROR");
    expect(lineLevel("INFO retrying after ERROR")).toBe("INFO");
    expect(lineLevel("no level here")).toBeNull();
  });

  it("removes terminal colour codes", () => {
    expect(stripAnsi("\u001b[32m INFO\u001b[0m ok")).toBe(" INFO ok");
  });
});
