import { describe, expect, it } from "vitest";
import type { BenchResult, Figure } from "./api/client";
import {
  BENCH_SUITES,
  defaultNsgaForm,
  formatFigure,
  formatFigureValue,
  formatWallTime,
  goalState,
  goalSummary,
  isBenchEvent,
  isDebugBuild,
  mergeResults,
  nsgaRequest,
  parameterlessRequest,
  parseGoal,
  populationIgnored,
  resultKey,
} from "./bench";

const figure = (name: string, value: number, unit = "", goal: string | null = null): Figure => ({
  name,
  value,
  unit,
  goal,
});

function result(id: number, started_ms: number, extra: Partial<BenchResult> = {}): BenchResult {
  return { id, suite: "nsga", title: `run ${id}`, started_ms, wall_ms: 40, build: "release", figures: [], ...extra };
}

describe("suites", () => {
  it("lists the three suites the node runs", () => {
    expect(BENCH_SUITES).toEqual(["nsga", "sandbox", "mixnode"]);
  });

  it("asks for a suite without parameters with its name alone", () => {
    expect(parameterlessRequest("sandbox")).toEqual({ suite: "sandbox" });
    expect(parameterlessRequest("mixnode")).toEqual({ suite: "mixnode" });
    expect(JSON.stringify(parameterlessRequest("mixnode"))).toBe('{"suite":"mixnode"}');
  });
});

describe("the nsga form", () => {
  it("starts with the node's defaults and turns them into a request", () => {
    expect(defaultNsgaForm()).toEqual({ problem: "zdt1", algorithm: "nsga2", pop: 100, gens: 250, seed: 1 });
    expect(nsgaRequest(defaultNsgaForm())).toEqual({
      ok: true,
      request: { suite: "nsga", problem: "zdt1", algorithm: "nsga2", pop: 100, gens: 250, seed: 1 },
    });
  });

  it("leaves out the population for NSGA-III, which sizes its own", () => {
    expect(populationIgnored("nsga3")).toBe(true);
    expect(populationIgnored("nsga2")).toBe(false);
    const form = { ...defaultNsgaForm(), algorithm: "nsga3", problem: "dtlz2", pop: null };
    expect(nsgaRequest(form)).toEqual({
      ok: true,
      request: { suite: "nsga", problem: "dtlz2", algorithm: "nsga3", pop: null, gens: 250, seed: 1 },
    });
  });

  it("names every field that cannot go into the request", () => {
    expect(nsgaRequest({ ...defaultNsgaForm(), pop: null, gens: 2.5, seed: -1 })).toEqual({
      ok: false,
      errors: { pop: "Enter a whole number.", gens: "Must be a whole number.", seed: "Must be 0 or more." },
    });
    expect(nsgaRequest({ ...defaultNsgaForm(), pop: undefined, gens: Number.NaN })).toEqual({
      ok: false,
      errors: { pop: "Enter a whole number.", gens: "Enter a whole number." },
    });
    expect(nsgaRequest({ ...defaultNsgaForm(), gens: 2 ** 32, seed: 2 ** 53 })).toEqual({
      ok: false,
      errors: { gens: "Must be at most 4,294,967,295.", seed: "Must be at most 9,007,199,254,740,991." },
    });
  });

  it("leaves the node's own limits to the node", () => {
    // The node refuses these with its own message (population range, evaluation budget).
    for (const form of [
      { ...defaultNsgaForm(), pop: 0 },
      { ...defaultNsgaForm(), pop: 100_000, gens: 1000 },
      { ...defaultNsgaForm(), problem: "zdt9" },
    ]) {
      expect(nsgaRequest(form).ok).toBe(true);
    }
    expect(nsgaRequest({ ...defaultNsgaForm(), gens: 0, seed: 0 }).ok).toBe(true);
  });
});

describe("figure values", () => {
  it("gives hypervolume and IGD four decimals", () => {
    expect(formatFigureValue(figure("hypervolume at (1.1, 1.1)", 0.869712))).toBe("0.8697");
    expect(formatFigureValue(figure("IGD to the true front", 0.00421))).toBe("0.0042");
    expect(formatFigureValue(figure("igd", 1))).toBe("1.0000");
  });

  it("gives ratios two decimals", () => {
    expect(formatFigureValue(figure("sieve: sandbox / native throughput", 0.5712, "×"))).toBe("0.57");
    expect(formatFigure(figure("sieve: sandbox / native throughput", 0.5712, "×"))).toBe("0.57 ×");
    expect(formatFigure(figure("ratio", 1234.5, " × "))).toBe("1234.50 ×");
  });

  it("writes large values whole with thousands separators", () => {
    expect(formatFigureValue(figure("evaluations", 25_100))).toBe("25,100");
    expect(formatFigure(figure("harvest-policy decisions", 12_345_678.9, "per s"))).toBe("12,345,679 per s");
    expect(formatFigureValue(figure("wall time", 1000, "ms"))).toBe("1,000");
    expect(formatFigureValue(figure("x", -2500))).toBe("-2,500");
  });

  it("writes small values with four significant digits", () => {
    expect(formatFigure(figure("wall time", 37.12345, "ms"))).toBe("37.12 ms");
    expect(formatFigureValue(figure("non-dominated solutions", 100))).toBe("100");
    expect(formatFigure(figure("instantiate", 12.5, "µs"))).toBe("12.5 µs");
    expect(formatFigureValue(figure("x", 0.0042137))).toBe("0.004214");
    expect(formatFigureValue(figure("x", 999.96))).toBe("1,000");
    expect(formatFigureValue(figure("x", 0))).toBe("0");
  });

  it("shows a dash for a value the node could not give", () => {
    expect(formatFigure(figure("x", Number.NaN, "ms"))).toBe("—");
    expect(formatFigureValue({ name: "x", value: null as unknown as number, unit: "ms" })).toBe("—");
    expect(formatFigureValue(figure("x", Number.POSITIVE_INFINITY))).toBe("—");
  });
});

describe("goals", () => {
  it("parses simple comparisons, with or without a remark in parentheses", () => {
    expect(parseGoal("≥ 0.5")).toEqual({ op: "≥", threshold: 0.5 });
    expect(parseGoal("≤ 10")).toEqual({ op: "≤", threshold: 10 });
    expect(parseGoal(">=1e3")).toEqual({ op: "≥", threshold: 1000 });
    expect(parseGoal(" <= -.5 ")).toEqual({ op: "≤", threshold: -0.5 });
    expect(parseGoal("≥ 0.8690 (pymoo: 0.8697)")).toEqual({ op: "≥", threshold: 0.869 });
  });

  it("parses strict comparisons", () => {
    expect(parseGoal("< 0.1")).toEqual({ op: "<", threshold: 0.1 });
    expect(parseGoal(">5")).toEqual({ op: ">", threshold: 5 });
    expect(parseGoal(" > 1e4 (roughly) ")).toEqual({ op: ">", threshold: 10_000 });
    // The two-character forms are still the non-strict ones.
    expect(parseGoal("<= 3")).toEqual({ op: "≤", threshold: 3 });
    expect(parseGoal(">= 3")).toEqual({ op: "≥", threshold: 3 });
  });

  it("does not guess at anything else", () => {
    for (const text of [
      "",
      "0.5",
      "about 0.5",
      "≥ 0.5 ms",
      "≥ 0.5 or so",
      "= 1",
      "≥",
      "≥ 1 (a) (b)",
      "≥ 1.2.3",
      "<",
      "<< 1",
      "=< 1",
      "< 0.1 %",
    ]) {
      expect(parseGoal(text)).toBeNull();
    }
    expect(parseGoal(null)).toBeNull();
  });

  it("judges a figure against its goal", () => {
    expect(goalState(figure("ratio", 0.57, "×", "≥ 0.5"))).toBe("met");
    expect(goalState(figure("ratio", 0.5, "×", "≥ 0.5"))).toBe("met");
    expect(goalState(figure("ratio", 0.43, "×", "≥ 0.5"))).toBe("not_met");
    expect(goalState(figure("time", 12, "ms", "≤ 10"))).toBe("not_met");
    expect(goalState(figure("time", 8, "ms", "≤ 10"))).toBe("met");
    expect(goalState(figure("hypervolume", 0.86971, "", "≥ 0.8690 (pymoo: 0.8697)"))).toBe("met");
    expect(goalState(figure("hypervolume", 0.86, "", "≥ 0.8690 (pymoo: 0.8697)"))).toBe("not_met");
    expect(goalState(figure("x", 1, "", "close to pymoo"))).toBe("unchecked");
    expect(goalState(figure("x", Number.NaN, "", "≥ 0.5"))).toBe("unchecked");
    expect(goalState(figure("x", 1))).toBe("none");
    expect(goalState(figure("x", 1, "", "  "))).toBe("none");
  });

  it("judges strict goals strictly", () => {
    expect(goalState(figure("lost", 0.05, "%", "< 0.1"))).toBe("met");
    expect(goalState(figure("lost", 0, "%", "< 0.1"))).toBe("met");
    expect(goalState(figure("lost", 0.1, "%", "< 0.1"))).toBe("not_met");
    expect(goalState(figure("lost", 2.5, "%", "< 0.1"))).toBe("not_met");
    expect(goalState(figure("x", 5, "", "> 5"))).toBe("not_met");
    expect(goalState(figure("x", 5.01, "", "> 5"))).toBe("met");
  });

  it("counts the goals met among those it can check", () => {
    expect(goalSummary([])).toBeNull();
    expect(goalSummary([figure("a", 1), figure("b", 1, "", "roughly 1")])).toBeNull();
    expect(
      goalSummary([figure("a", 0.6, "×", "≥ 0.5"), figure("b", 0.4, "×", "≥ 0.5"), figure("c", 1, "", "text")]),
    ).toEqual({ met: 1, checked: 2 });
  });
});

describe("the mixnode suite's figures", () => {
  // As the node reports them, in its order.
  const figures: Figure[] = [
    figure("one mixnode: packets sent", 150_000),
    figure("one mixnode: forwarded per second", 9_987.6, "packets/s", "≥ 10000"),
    figure("one mixnode: lost", 0.0123, "%", "< 0.1"),
    figure("three hops, zero delay: packets sent", 10_000),
    figure("three hops: latency p50", 0.2345, "ms", "≤ 1"),
    figure("three hops: latency p99", 1.8, "ms", "≤ 3"),
    figure("three hops: lost", 0, "%"),
  ];

  it("are written with their units", () => {
    expect(figures.map(formatFigure)).toEqual([
      "150,000",
      "9,988 packets/s",
      "0.0123 %",
      "10,000",
      "0.2345 ms",
      "1.8 ms",
      "0 %",
    ]);
  });

  it("have their four goals checked, the loss goal strictly", () => {
    expect(figures.map(goalState)).toEqual(["none", "not_met", "met", "none", "met", "met", "none"]);
    expect(goalSummary(figures)).toEqual({ met: 3, checked: 4 });
    const lossy = figures.map((f) => (f.name === "one mixnode: lost" ? { ...f, value: 0.1 } : f));
    expect(goalSummary(lossy)).toEqual({ met: 2, checked: 4 });
  });

  it("show a dash where the node had no number, e.g. no packet arrived for a latency", () => {
    const none = { ...figure("three hops: latency p99", 0, "ms", "≤ 3"), value: null as unknown as number };
    expect(formatFigure(none)).toBe("—");
    expect(goalState(none)).toBe("unchecked");
  });
});

describe("results", () => {
  it("writes wall times in ms below a second and in seconds above", () => {
    expect(formatWallTime(42.3678)).toBe("42.37 ms");
    expect(formatWallTime(0.25)).toBe("0.25 ms");
    expect(formatWallTime(999.99)).toBe("1.00 s");
    expect(formatWallTime(1834.2)).toBe("1.83 s");
    expect(formatWallTime(Number.NaN)).toBe("—");
  });

  it("tells debug builds apart", () => {
    expect(isDebugBuild({ build: "debug" })).toBe(true);
    expect(isDebugBuild({ build: "release" })).toBe(false);
  });

  it("merges lists newest first, once each", () => {
    const old = result(1, 1_000);
    const mine = result(2, 2_000, { suite: "sandbox" });
    expect(mergeResults([mine], [old])).toEqual([mine, old]);
    const mixnode = result(1, 3_000, { suite: "mixnode" });
    expect(mergeResults([mixnode], [mine, old])).toEqual([mixnode, mine, old]);
    // An answer of the list that left before this page's run finished does not drop the run.
    expect(mergeResults([old], [mine, old])).toEqual([mine, old]);
    const updated = { ...old, title: "again" };
    expect(mergeResults([updated], [mine, old])).toEqual([mine, updated]);
    expect(mergeResults([], [])).toEqual([]);
  });

  it("keeps results of a restarted node, whose ids start again at 1, apart", () => {
    const before = result(1, 1_000);
    const after = result(1, 5_000);
    expect(resultKey(before)).not.toBe(resultKey(after));
    expect(mergeResults([after], [before])).toEqual([after, before]);
    expect(mergeResults([result(3, 7_000), result(2, 7_000)], [])).toEqual([result(3, 7_000), result(2, 7_000)]);
  });

  it("recognises the node's benchmark events", () => {
    expect(isBenchEvent({ id: 1, ts_ms: 0, topic: "bench", kind: "finished", data: { id: 1 } })).toBe(true);
    expect(isBenchEvent({ id: 2, ts_ms: 0, topic: "idle", kind: "job_finished", data: null })).toBe(false);
  });
});
