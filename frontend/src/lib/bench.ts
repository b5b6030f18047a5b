import type { BenchRequest, BenchResult, Event, Figure } from "./api/client";
import { formatCount } from "./format";

/**
 * The benchmark suites the node runs: `nsga` takes the form's parameters; `sandbox` and
 * `mixnode` take none.
 */
export const BENCH_SUITES = ["nsga", "sandbox", "mixnode"] as const;

export type BenchSuite = (typeof BENCH_SUITES)[number];

/** The request of a suite that takes no parameters: its body is just `{ "suite": … }`. */
export function parameterlessRequest(suite: Exclude<BenchSuite, "nsga">): BenchRequest {
  return { suite };
}

/** The reference problems of the `nsga` suite, as the node names them. */
export const NSGA_PROBLEMS = ["zdt1", "zdt2", "zdt3", "zdt4", "zdt6", "dtlz1", "dtlz2"] as const;

export const NSGA_ALGORITHMS = [
  { id: "nsga2", label: "NSGA-II" },
  { id: "nsga3", label: "NSGA-III" },
] as const;

/** What a debug build's result carries, so nobody compares its figures with a release build's. */
export const DEBUG_BUILD_NOTE = "debug build — figures are much slower than a release build's";

/** The `nsga` form as typed: a number is null (or undefined) while its field is empty. */
export type NsgaForm = {
  problem: string;
  algorithm: string;
  pop: number | null | undefined;
  gens: number | null | undefined;
  seed: number | null | undefined;
};

export type NsgaField = "pop" | "gens" | "seed";
export type NsgaFormErrors = Partial<Record<NsgaField, string>>;

/** The form filled with the node's defaults. */
export function defaultNsgaForm(): NsgaForm {
  return { problem: "zdt1", algorithm: "nsga2", pop: 100, gens: 250, seed: 1 };
}

/** NSGA-III sizes its population from its reference directions, so the node ignores `pop` for it. */
export function populationIgnored(algorithm: string): boolean {
  return algorithm === "nsga3";
}

// The request's wire types: pop and gens are u32; the seed is a u64, of which JSON numbers
// carry exactly only the safe integers.
const U32_MAX = 4_294_967_295;

function wholeNumberError(value: number | null | undefined, max: number): string | null {
  if (value === null || value === undefined || Number.isNaN(value)) return "Enter a whole number.";
  if (!Number.isInteger(value)) return "Must be a whole number.";
  if (value < 0) return "Must be 0 or more.";
  if (value > max) return `Must be at most ${formatCount(max)}.`;
  return null;
}

/**
 * The request for the `nsga` form, or what is wrong with the form. Only what the request can
 * carry is checked here; the node judges the rest (population range, the evaluation budget)
 * and says why in its answer.
 */
export function nsgaRequest(
  form: NsgaForm,
): { ok: true; request: BenchRequest } | { ok: false; errors: NsgaFormErrors } {
  const ignorePop = populationIgnored(form.algorithm);
  const errors: NsgaFormErrors = {};
  const popError = ignorePop ? null : wholeNumberError(form.pop, U32_MAX);
  const gensError = wholeNumberError(form.gens, U32_MAX);
  const seedError = wholeNumberError(form.seed, Number.MAX_SAFE_INTEGER);
  if (popError) errors.pop = popError;
  if (gensError) errors.gens = gensError;
  if (seedError) errors.seed = seedError;
  if (popError || gensError || seedError) return { ok: false, errors };
  return {
    ok: true,
    request: {
      suite: "nsga",
      problem: form.problem,
      algorithm: form.algorithm,
      pop: ignorePop ? null : (form.pop ?? null),
      gens: form.gens ?? null,
      seed: form.seed ?? null,
    },
  };
}

/** A ratio such as "sandbox / native throughput". */
function isRatio(figure: Pick<Figure, "unit">): boolean {
  return figure.unit.trim() === "×";
}

/** Hypervolume and IGD, whose goals and comparisons need four decimals. */
function isQualityIndicator(figure: Pick<Figure, "name">): boolean {
  return /^(hypervolume|igd)\b/i.test(figure.name.trim());
}

/** Four significant digits without trailing zeros; thousands separators from 1000 up. */
function significant(value: number): string {
  const rounded = Number(value.toPrecision(4));
  return Math.abs(rounded) >= 1000 ? formatCount(rounded) : String(rounded);
}

/**
 * A figure's value, without its unit: hypervolume and IGD with four decimals ("0.8697"),
 * ratios with two ("0.57"), values from 1000 up whole with thousands separators ("25,100"),
 * smaller ones with four significant digits ("37.12", "0.004213"). "—" when the node sent no
 * number (it sends null for NaN).
 */
export function formatFigureValue(figure: Pick<Figure, "name" | "value" | "unit">): string {
  const value: unknown = figure.value;
  if (typeof value !== "number" || !Number.isFinite(value)) return "—";
  if (isQualityIndicator(figure)) return value.toFixed(4);
  if (isRatio(figure)) return value.toFixed(2);
  if (Math.abs(value) >= 1000) return formatCount(value);
  return significant(value);
}

/** A figure's value with its unit, e.g. "0.57 ×", "37.12 ms", "25,100". */
export function formatFigure(figure: Pick<Figure, "name" | "value" | "unit">): string {
  const value = formatFigureValue(figure);
  const unit = figure.unit.trim();
  return unit === "" || value === "—" ? value : `${value} ${unit}`;
}

/**
 * A goal of the form "≥ N", "≤ N", "> N" or "< N" (">=" and "<=" too), optionally followed by a
 * remark in parentheses.
 */
export type Goal = { op: "≥" | "≤" | ">" | "<"; threshold: number };

const GOAL_PATTERN = /^\s*(≥|>=|≤|<=|>|<)\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?)\s*(?:\([^()]*\))?\s*$/i;

const GOAL_OPS: Record<string, Goal["op"]> = { "≥": "≥", ">=": "≥", "≤": "≤", "<=": "≤", ">": ">", "<": "<" };

/** The comparison a goal text states, or null when it is not a simple one. */
export function parseGoal(goal: string | null): Goal | null {
  if (goal === null) return null;
  const match = GOAL_PATTERN.exec(goal);
  const op = match?.[1] === undefined ? undefined : GOAL_OPS[match[1]];
  if (!op || match?.[2] === undefined) return null;
  const threshold = Number(match[2]);
  if (!Number.isFinite(threshold)) return null;
  return { op, threshold };
}

function meets(value: number, goal: Goal): boolean {
  switch (goal.op) {
    case "≥":
      return value >= goal.threshold;
    case "≤":
      return value <= goal.threshold;
    case ">":
      return value > goal.threshold;
    case "<":
      return value < goal.threshold;
  }
}

/**
 * Whether a figure meets its goal: "none" without a goal, "unchecked" when the goal is not a
 * simple comparison (or the value is missing), else "met" or "not_met".
 */
export type GoalState = "none" | "unchecked" | "met" | "not_met";

export function goalState(figure: Pick<Figure, "value" | "goal">): GoalState {
  if (figure.goal === null || figure.goal.trim() === "") return "none";
  const goal = parseGoal(figure.goal);
  const value: unknown = figure.value;
  if (!goal || typeof value !== "number" || !Number.isFinite(value)) return "unchecked";
  return meets(value, goal) ? "met" : "not_met";
}

/** How many of the figures' checkable goals are met; null when none can be checked. */
export function goalSummary(figures: readonly Figure[]): { met: number; checked: number } | null {
  let met = 0;
  let checked = 0;
  for (const figure of figures) {
    const state = goalState(figure);
    if (state === "met" || state === "not_met") checked += 1;
    if (state === "met") met += 1;
  }
  return checked === 0 ? null : { met, checked };
}

/** A run's wall time: "42.37 ms", "1.83 s". */
export function formatWallTime(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "—";
  if (Number(ms.toPrecision(4)) < 1000) return `${significant(ms)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

export function isDebugBuild(result: Pick<BenchResult, "build">): boolean {
  return result.build === "debug";
}

/** Ids count from 1 again when the node restarts, so a result is known by its id and start. */
export function resultKey(result: Pick<BenchResult, "id" | "started_ms">): string {
  return `${result.id}@${result.started_ms}`;
}

/**
 * Results from both lists once each, newest first; where both have a result, the one from
 * `incoming` wins. Keeps a run this page started when an older answer of the list arrives
 * after it.
 */
export function mergeResults(incoming: readonly BenchResult[], current: readonly BenchResult[]): BenchResult[] {
  const byKey = new Map<string, BenchResult>();
  for (const result of current) byKey.set(resultKey(result), result);
  for (const result of incoming) byKey.set(resultKey(result), result);
  return [...byKey.values()].sort((a, b) => b.started_ms - a.started_ms || b.id - a.id);
}

/** The event the node publishes when any benchmark run finishes (`bench` / `finished`). */
export function isBenchEvent(event: Event): boolean {
  return event.topic === "bench";
}
