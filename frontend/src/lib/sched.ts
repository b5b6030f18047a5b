import type { Event, Phase, Round, SchedJob, SchedJobSubmit, SchedNode, Tier, WorkSource } from "./api/client";
import { formatCount } from "./format";
import { formatMillis, type IdleTone } from "./idle";

// ---- Events -----------------------------------------------------------------------------

/** Events of the scheduler: `job_<phase>` with the job, and `round` with the round. */
export function isSchedEvent(event: Event): boolean {
  return event.topic === "scheduler";
}

// ---- Nodes ------------------------------------------------------------------------------

/** A peer id as the scheduler's messages name it: "…" and its last 8 characters. */
export function shortNode(id: string): string {
  const chars = [...id];
  return chars.length > 8 ? `…${chars.slice(-8).join("")}` : id;
}

/** "this node" for this node's own id, the short id for any other. */
export function nodeName(id: string, selfId: string | null): string {
  return id === selfId ? "this node" : shortNode(id);
}

/** This node first, then the peers by id, so rows stay put from round to round. */
export function sortNodes(nodes: readonly SchedNode[]): SchedNode[] {
  return [...nodes].sort((a, b) => {
    if (a.is_self !== b.is_self) return a.is_self ? -1 : 1;
    return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  });
}

// ---- Phases and tiers -------------------------------------------------------------------

type PhaseKind = Phase["kind"];

/** Done, failed and cancelled jobs have ended: nothing moves them on any more. */
export function isEnded(phase: Phase): boolean {
  return phase.kind === "done" || phase.kind === "failed" || phase.kind === "cancelled";
}

const PHASE_TONES: Record<PhaseKind, IdleTone> = {
  queued: "idle",
  placed: "info",
  running: "info",
  done: "ok",
  failed: "bad",
  retrying: "warn",
  cancelled: "warn",
};

export function phaseTone(phase: Phase): IdleTone {
  return PHASE_TONES[phase.kind];
}

/** What goes beside the phase's name: the node that has the job, or why it failed or is retried. */
export function phaseDetail(phase: Phase): string | null {
  switch (phase.kind) {
    case "placed":
    case "running":
      return `on ${shortNode(phase.node)}`;
    case "failed":
    case "retrying":
      return phase.reason;
    default:
      return null;
  }
}

/** Tiers in the order the scheduler serves them. */
export const TIERS: readonly Tier[] = ["gold", "silver", "bronze"];

const TIER_TONES: Record<Tier, IdleTone> = { gold: "warn", silver: "info", bronze: "idle" };

export function tierTone(tier: Tier): IdleTone {
  return TIER_TONES[tier];
}

const WORK_SOURCES: Record<WorkSource, string> = {
  given: "your estimate",
  learned: "what the last run of this module used",
  fuel_limit: "the fuel budget, an upper bound",
};

/** Where a job's work estimate came from, for people. */
export function workSourceText(source: WorkSource): string {
  return WORK_SOURCES[source];
}

// ---- Deadlines and waits ----------------------------------------------------------------

/**
 * Where a job stands against its deadline: done by it (met) or after it (missed), failed (which
 * counts as not on time), cancelled (no verdict), or not ended yet and due or overdue.
 */
export type DeadlineStatus =
  | { kind: "met"; spareMs: number }
  | { kind: "missed"; lateMs: number }
  | { kind: "failed" }
  | { kind: "cancelled" }
  | { kind: "due"; leftMs: number }
  | { kind: "overdue"; lateMs: number };

export function deadlineStatus(
  job: Pick<SchedJob, "phase" | "deadline_ms" | "finished_ms">,
  nowMs: number,
): DeadlineStatus {
  switch (job.phase.kind) {
    case "done": {
      const finished = job.finished_ms ?? nowMs;
      return finished <= job.deadline_ms
        ? { kind: "met", spareMs: job.deadline_ms - finished }
        : { kind: "missed", lateMs: finished - job.deadline_ms };
    }
    case "failed":
      return { kind: "failed" };
    case "cancelled":
      return { kind: "cancelled" };
    default:
      return nowMs <= job.deadline_ms
        ? { kind: "due", leftMs: job.deadline_ms - nowMs }
        : { kind: "overdue", lateMs: nowMs - job.deadline_ms };
  }
}

export function deadlineText(status: DeadlineStatus): string {
  switch (status.kind) {
    case "met":
      return `met, ${formatMillis(status.spareMs)} to spare`;
    case "missed":
      return `missed by ${formatMillis(status.lateMs)}`;
    case "failed":
      return "not met: the job failed";
    case "cancelled":
      return "cancelled";
    case "due":
      return `due in ${formatMillis(status.leftMs)}`;
    case "overdue":
      return `overdue by ${formatMillis(status.lateMs)}`;
  }
}

const DEADLINE_TONES: Record<DeadlineStatus["kind"], IdleTone> = {
  met: "ok",
  missed: "bad",
  failed: "bad",
  cancelled: "idle",
  due: "info",
  overdue: "warn",
};

export function deadlineTone(status: DeadlineStatus): IdleTone {
  return DEADLINE_TONES[status.kind];
}

/**
 * How long a job waited in the queue (submitted → started), or has been waiting so far when it
 * has not started; null for a job that ended without ever starting.
 */
export type Wait = { ms: number; ongoing: boolean };

export function waitOf(
  job: Pick<SchedJob, "phase" | "submitted_ms" | "started_ms">,
  nowMs: number,
): Wait | null {
  if (job.started_ms !== null) return { ms: Math.max(0, job.started_ms - job.submitted_ms), ongoing: false };
  if (isEnded(job.phase)) return null;
  return { ms: Math.max(0, nowMs - job.submitted_ms), ongoing: true };
}

export function waitText(wait: Wait | null): string {
  if (wait === null) return "never started";
  return `${wait.ongoing ? "waiting" : "waited"} ${formatMillis(wait.ms)}`;
}

// ---- Figures ----------------------------------------------------------------------------

/** A wait percentile, "—" when no job of the tier started in the window. */
export function formatWait(ms: number | null): string {
  return ms === null ? "—" : formatMillis(ms);
}

/** "the last hour", "the last 15 min": the window the SLA figures cover. */
export function formatWindow(windowMs: number): string {
  const minutes = Math.round(windowMs / 60_000);
  if (minutes === 60) return "the last hour";
  if (minutes % 60 === 0) return `the last ${minutes / 60} hours`;
  return `the last ${minutes} min`;
}

/** Jobs per minute with precision that suits the size: "0.05 jobs/min", "12 jobs/min". */
export function formatPerMinute(perMinute: number): string {
  const digits = perMinute !== 0 && Math.abs(perMinute) < 10 ? 2 : 0;
  return `${perMinute.toFixed(digits)} jobs/min`;
}

/** Three significant digits without exponent noise: "0.00421", "12.3", "1,234". */
export function formatSignificant(value: number): string {
  if (!Number.isFinite(value)) return "—";
  if (Math.abs(value) >= 1000) return formatCount(value);
  return String(Number(value.toPrecision(3)));
}

// ---- The Pareto front -------------------------------------------------------------------

/** The four objectives of a plan, in the order `Round.front` lists them; all are minimised. */
export const OBJECTIVES = [
  { name: "Makespan", unit: "s", what: "when the last job finishes" },
  { name: "Cost", unit: "tokens", what: "Σ work × the node's price" },
  { name: "Energy", unit: "J", what: "Σ work × the node's energy per instruction" },
  { name: "SLA risk", unit: "weighted s late", what: "Σ tier weight × how late each job finishes" },
] as const;

export type ObjectiveIndex = 0 | 1 | 2 | 3;
export const OBJECTIVE_INDEXES: readonly ObjectiveIndex[] = [0, 1, 2, 3];
export const DEFAULT_X_OBJECTIVE: ObjectiveIndex = 0;
export const DEFAULT_Y_OBJECTIVE: ObjectiveIndex = 3;

/** "Makespan (s)": an objective as an axis title. */
export function objectiveLabel(index: ObjectiveIndex): string {
  const objective = OBJECTIVES[index];
  return `${objective.name} (${objective.unit})`;
}

/** "12.3 s", "0.5 tokens": one objective's value with its unit. */
export function formatObjective(index: ObjectiveIndex, value: number): string {
  return `${formatSignificant(value)} ${OBJECTIVES[index].unit}`;
}

/** The drawing area of a plot: the SVG's size and the margins kept for the axes. */
export type PlotBox = { width: number; height: number; left: number; right: number; top: number; bottom: number };

export type Tick = { value: number; at: number; label: string };
export type PlotPoint = { x: number; y: number; values: readonly number[] };
export type Scatter = {
  /** Every plan on the front; `chosen` is also among them. */
  points: (PlotPoint & { index: number })[];
  chosen: (PlotPoint & { index: number }) | null;
  fifo: PlotPoint;
  xTicks: Tick[];
  yTicks: Tick[];
};

/** A step of 1, 2 or 5 × 10ⁿ that cuts `span` into about `count` pieces. */
export function niceStep(span: number, count: number): number {
  const raw = span / Math.max(1, count);
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const normalised = raw / magnitude;
  const factor = normalised < 1.5 ? 1 : normalised < 3 ? 2 : normalised < 7 ? 5 : 10;
  return factor * magnitude;
}

/**
 * An axis range that covers `values` and starts and ends on a tick, with its ticks. A single
 * value (or all values equal) gets room around it; zero gets 0 to 1.
 */
export function niceAxis(values: readonly number[], count = 5): { domain: [number, number]; ticks: number[] } {
  const finite = values.filter(Number.isFinite);
  let low = finite.length > 0 ? Math.min(...finite) : 0;
  let high = finite.length > 0 ? Math.max(...finite) : 1;
  if (low === high) {
    const pad = low === 0 ? 1 : Math.abs(low) * 0.1;
    low = low === 0 ? 0 : low - pad;
    high = high + pad;
  }
  const step = niceStep(high - low, count);
  // Rounded to 12 digits, so that 0.1 + 0.2 is 0.3 on the axis.
  const clean = (value: number) => Number(value.toPrecision(12));
  const first = Math.floor(low / step);
  const last = Math.ceil(high / step);
  const ticks: number[] = [];
  for (let i = first; i <= last; i++) ticks.push(clean(i * step));
  return { domain: [clean(first * step), clean(last * step)], ticks };
}

/** Axis numbers stay short: thousands grouped, tiny values (a makespan of microseconds) as 9.5e-7. */
export function tickLabel(value: number): string {
  if (Math.abs(value) >= 1000) return formatCount(value);
  if (value !== 0 && Math.abs(value) < 0.001) return Number(value.toPrecision(3)).toExponential();
  return String(Number(value.toPrecision(6)));
}

/**
 * The front of a round and its FIFO first-fit plan as points in `box`, on objectives `x` and
 * `y`: both axes cover every plan and the FIFO one, larger values right and up.
 */
export function scatterOf(
  round: Pick<Round, "front" | "chosen" | "fifo_first_fit">,
  x: ObjectiveIndex,
  y: ObjectiveIndex,
  box: PlotBox,
): Scatter {
  const plans: readonly (readonly number[])[] = [...round.front, round.fifo_first_fit];
  const xAxis = niceAxis(plans.map((plan) => plan[x] ?? Number.NaN));
  const yAxis = niceAxis(plans.map((plan) => plan[y] ?? Number.NaN));
  const plotWidth = box.width - box.left - box.right;
  const plotHeight = box.height - box.top - box.bottom;
  const sx = (value: number) =>
    box.left + ((value - xAxis.domain[0]) / (xAxis.domain[1] - xAxis.domain[0])) * plotWidth;
  const sy = (value: number) =>
    box.top + plotHeight - ((value - yAxis.domain[0]) / (yAxis.domain[1] - yAxis.domain[0])) * plotHeight;
  const place = (values: readonly number[]): PlotPoint => ({
    x: sx(values[x] ?? 0),
    y: sy(values[y] ?? 0),
    values,
  });
  const points = round.front.map((values, index) => ({ ...place(values), index }));
  return {
    points,
    chosen: points[round.chosen] ?? null,
    fifo: place(round.fifo_first_fit),
    xTicks: xAxis.ticks.map((value) => ({ value, at: sx(value), label: tickLabel(value) })),
    yTicks: yAxis.ticks.map((value) => ({ value, at: sy(value), label: tickLabel(value) })),
  };
}

// ---- Submitting a job -------------------------------------------------------------------

/** The node's defaults for a submission, which the form starts from. */
export const SUBMIT_DEFAULTS = { tier: "silver", deadlineS: 600, cpu: 1, memoryMib: 256 } as const;

/** The submit form's contents: a number input left empty holds null. */
export type SubmitDraft = {
  source: "example" | "module";
  example: string;
  /** The chosen .wasm file, base64; null until one is read. */
  moduleBase64: string | null;
  input: string;
  /** An input file, base64; it replaces the text while chosen. */
  inputBase64: string | null;
  tier: Tier;
  deadlineS: number | null;
  cpu: number | null;
  memoryMib: number | null;
  /** Instructions; empty lets the scheduler estimate. */
  work: number | null;
};

export type SubmitField = "module" | "input" | "tier" | "deadline" | "cpu" | "memory" | "work";

/** Where an objection belongs: a field of the form, or the top of it (null). */
export type SubmitError = { field: SubmitField | null; message: string };

const MIB = 1024 * 1024;

/**
 * The request to send, or the first field that cannot be sent as it is: no module file, an
 * empty number, a fraction of a core. Ranges are the node's to check.
 */
export function submissionOf(
  draft: SubmitDraft,
): { request: SchedJobSubmit; error: null } | { request: null; error: SubmitError } {
  const refuse = (field: SubmitField, message: string) => ({ request: null, error: { field, message } });
  if (draft.source === "module" && draft.moduleBase64 === null) return refuse("module", "choose a .wasm file");
  if (draft.source === "example" && draft.example === "") return refuse("module", "choose an example");
  if (draft.deadlineS === null || !Number.isFinite(draft.deadlineS)) {
    return refuse("deadline", "enter the seconds from now by which it should be done");
  }
  if (draft.cpu === null || !Number.isInteger(draft.cpu)) return refuse("cpu", "enter a whole number of cores");
  if (draft.memoryMib === null || !Number.isFinite(draft.memoryMib)) return refuse("memory", "enter the memory in MiB");
  if (draft.work !== null && !Number.isFinite(draft.work)) return refuse("work", "enter a number or leave it empty");

  const request: SchedJobSubmit = {
    tier: draft.tier,
    deadline_s: draft.deadlineS,
    cpu: draft.cpu,
    memory_bytes: Math.round(draft.memoryMib * MIB),
  };
  if (draft.source === "example") request.example = draft.example;
  else request.module_base64 = draft.moduleBase64;
  if (draft.inputBase64 !== null) request.input_base64 = draft.inputBase64;
  else request.input = draft.input;
  if (draft.work !== null) request.work = draft.work;
  return { request, error: null };
}

/** The node's names for the fields of a submission, and the form field each belongs to. */
const NODE_FIELDS: Readonly<Record<string, SubmitField>> = {
  module: "module",
  module_base64: "module",
  example: "module",
  input: "input",
  input_base64: "input",
  tier: "tier",
  deadline: "deadline",
  deadline_s: "deadline",
  cpu: "cpu",
  memory_bytes: "memory",
  work: "work",
};

/**
 * Where a refusal belongs: the node names the field before the first colon
 * ("deadline: the deadline has already passed"); other messages go to the top of the form.
 */
export function submitErrorOf(message: string): SubmitError {
  const colon = message.indexOf(":");
  if (colon > 0) {
    const name = message.slice(0, colon).trim();
    const rest = message.slice(colon + 1).trim();
    if (Object.hasOwn(NODE_FIELDS, name) && rest !== "") return { field: NODE_FIELDS[name] ?? null, message: rest };
  }
  return { field: null, message };
}

/** Standard base64 of bytes, as `module_base64` and `input_base64` take them. */
export function bytesToBase64(bytes: Uint8Array): string {
  // In slices: String.fromCharCode takes its arguments on the stack.
  const CHUNK = 0x8000;
  let binary = "";
  for (let at = 0; at < bytes.length; at += CHUNK) {
    binary += String.fromCharCode(...bytes.subarray(at, at + CHUNK));
  }
  return btoa(binary);
}
