import { describe, expect, it } from "vitest";
import type { Event, Phase, SchedJob, SchedNode } from "./api/client";
import {
  DEFAULT_X_OBJECTIVE,
  DEFAULT_Y_OBJECTIVE,
  SUBMIT_DEFAULTS,
  bytesToBase64,
  deadlineStatus,
  deadlineText,
  deadlineTone,
  formatObjective,
  formatPerMinute,
  formatSignificant,
  formatWait,
  formatWindow,
  isEnded,
  isSchedEvent,
  niceAxis,
  niceStep,
  nodeName,
  objectiveLabel,
  phaseDetail,
  phaseTone,
  scatterOf,
  shortNode,
  sortNodes,
  submissionOf,
  submitErrorOf,
  tierTone,
  waitOf,
  waitText,
  workSourceText,
  type PlotBox,
  type SubmitDraft,
  tickLabel,
} from "./sched";

const PEER = "12D3KooWLx8x1bQhYqWbc3a1iZyQk5nS9aZ4mG7dTQeFvS1pNq2X";

const job = (phase: Phase, extra: Partial<SchedJob> = {}): SchedJob => ({
  id: 1,
  label: "wordcount",
  module_hash: "ab",
  input_bytes: 12,
  tier: "gold",
  cpu: 1,
  memory_bytes: 256 * 1024 * 1024,
  fuel: 2e11,
  timeout_ms: 60_000,
  work: 1e9,
  work_source: "fuel_limit",
  submitted_ms: 10_000,
  deadline_ms: 70_000,
  phase,
  attempts: 0,
  max_attempts: 3,
  node: null,
  remote_id: null,
  placed_ms: null,
  started_ms: null,
  finished_ms: null,
  result: null,
  ...extra,
});

const event = (topic: string, kind: string, data: unknown): Event => ({ id: 1, ts_ms: 0, topic, kind, data });

describe("scheduler events", () => {
  it("recognises the scheduler's topic", () => {
    expect(isSchedEvent(event("scheduler", "round", {}))).toBe(true);
    expect(isSchedEvent(event("scheduler", "job_done", {}))).toBe(true);
    expect(isSchedEvent(event("idle", "job_finished", {}))).toBe(false);
    expect(isSchedEvent(event("scheduler.other", "x", {}))).toBe(false);
  });
});

describe("nodes", () => {
  it("shortens a node to its last 8 characters", () => {
    expect(shortNode(PEER)).toBe("…vS1pNq2X");
    expect(shortNode("abcdefgh")).toBe("abcdefgh");
    expect(shortNode("")).toBe("");
  });

  it("names this node as such", () => {
    expect(nodeName(PEER, PEER)).toBe("this node");
    expect(nodeName(PEER, null)).toBe(shortNode(PEER));
    expect(nodeName(PEER, "other")).toBe(shortNode(PEER));
  });

  it("lists this node first, then the peers by id", () => {
    const node = (id: string, is_self: boolean): SchedNode => ({
      id,
      is_self,
      available: true,
      reason: null,
      speed: 1e9,
      free_cores: 2,
      price_per_gigafuel: 0,
      reliability: 1,
      in_flight: 0,
    });
    expect(sortNodes([node("c", false), node("z", true), node("a", false)]).map((n) => n.id)).toEqual(["z", "a", "c"]);
  });
});

describe("phases", () => {
  it("tells which phases have ended", () => {
    const ended = (["done", "failed", "cancelled"] as const).map((kind) =>
      isEnded(kind === "failed" ? { kind, reason: "x" } : { kind }),
    );
    expect(ended).toEqual([true, true, true]);
    expect(isEnded({ kind: "queued" })).toBe(false);
    expect(isEnded({ kind: "placed", node: PEER })).toBe(false);
    expect(isEnded({ kind: "running", node: PEER })).toBe(false);
    expect(isEnded({ kind: "retrying", reason: "lost" })).toBe(false);
  });

  it("puts the node or the reason beside a phase", () => {
    expect(phaseDetail({ kind: "queued" })).toBeNull();
    expect(phaseDetail({ kind: "placed", node: PEER })).toBe("on …vS1pNq2X");
    expect(phaseDetail({ kind: "running", node: PEER })).toBe("on …vS1pNq2X");
    expect(phaseDetail({ kind: "failed", reason: "out of fuel" })).toBe("out of fuel");
    expect(phaseDetail({ kind: "retrying", reason: "lost: no answer" })).toBe("lost: no answer");
    expect(phaseDetail({ kind: "done" })).toBeNull();
    expect(phaseDetail({ kind: "cancelled" })).toBeNull();
  });

  it("colours phases and tiers", () => {
    expect(phaseTone({ kind: "done" })).toBe("ok");
    expect(phaseTone({ kind: "failed", reason: "x" })).toBe("bad");
    expect(phaseTone({ kind: "running", node: PEER })).toBe("info");
    expect(phaseTone({ kind: "retrying", reason: "x" })).toBe("warn");
    expect(tierTone("gold")).toBe("warn");
    expect(tierTone("bronze")).toBe("idle");
  });

  it("says where a work estimate came from", () => {
    expect(workSourceText("given")).toBe("your estimate");
    expect(workSourceText("learned")).toBe("what the last run of this module used");
    expect(workSourceText("fuel_limit")).toBe("the fuel budget, an upper bound");
  });
});

describe("deadlines", () => {
  it("judges a done job by when it finished", () => {
    const onTime = deadlineStatus(job({ kind: "done" }, { finished_ms: 40_000 }), 999_999);
    expect(onTime).toEqual({ kind: "met", spareMs: 30_000 });
    expect(deadlineText(onTime)).toBe("met, 30.0 s to spare");
    expect(deadlineTone(onTime)).toBe("ok");
    const exactly = deadlineStatus(job({ kind: "done" }, { finished_ms: 70_000 }), 0);
    expect(exactly).toEqual({ kind: "met", spareMs: 0 });
    const late = deadlineStatus(job({ kind: "done" }, { finished_ms: 71_500 }), 0);
    expect(late).toEqual({ kind: "missed", lateMs: 1_500 });
    expect(deadlineText(late)).toBe("missed by 1.5 s");
  });

  it("counts a failed job as not met and gives a cancelled one no verdict", () => {
    const failed = deadlineStatus(job({ kind: "failed", reason: "trap" }, { finished_ms: 20_000 }), 30_000);
    expect(failed).toEqual({ kind: "failed" });
    expect(deadlineText(failed)).toBe("not met: the job failed");
    expect(deadlineTone(failed)).toBe("bad");
    expect(deadlineStatus(job({ kind: "cancelled" }), 30_000)).toEqual({ kind: "cancelled" });
  });

  it("counts down for a job that has not ended", () => {
    const due = deadlineStatus(job({ kind: "running", node: PEER }), 65_000);
    expect(due).toEqual({ kind: "due", leftMs: 5_000 });
    expect(deadlineText(due)).toBe("due in 5.0 s");
    const overdue = deadlineStatus(job({ kind: "queued" }), 190_000);
    expect(overdue).toEqual({ kind: "overdue", lateMs: 120_000 });
    expect(deadlineText(overdue)).toBe("overdue by 2m 00s");
    expect(deadlineTone(overdue)).toBe("warn");
  });
});

describe("waits", () => {
  it("measures the wait from submission to start", () => {
    const wait = waitOf(job({ kind: "done" }, { started_ms: 10_850 }), 99_000);
    expect(wait).toEqual({ ms: 850, ongoing: false });
    expect(waitText(wait)).toBe("waited 850 ms");
  });

  it("counts the wait so far for a job still in the queue", () => {
    const wait = waitOf(job({ kind: "retrying", reason: "refused" }), 13_000);
    expect(wait).toEqual({ ms: 3_000, ongoing: true });
    expect(waitText(wait)).toBe("waiting 3.0 s");
  });

  it("has no wait for a job that ended without starting", () => {
    expect(waitOf(job({ kind: "cancelled" }), 99_000)).toBeNull();
    expect(waitText(null)).toBe("never started");
  });

  it("never reports a negative wait across clocks", () => {
    expect(waitOf(job({ kind: "queued" }), 9_000)).toEqual({ ms: 0, ongoing: true });
  });
});

describe("SLA figures", () => {
  it("formats waits, windows and throughput", () => {
    expect(formatWait(null)).toBe("—");
    expect(formatWait(1_250)).toBe("1.3 s");
    expect(formatWindow(3_600_000)).toBe("the last hour");
    expect(formatWindow(7_200_000)).toBe("the last 2 hours");
    expect(formatWindow(900_000)).toBe("the last 15 min");
    expect(formatPerMinute(0)).toBe("0 jobs/min");
    expect(formatPerMinute(1 / 60)).toBe("0.02 jobs/min");
    expect(formatPerMinute(12)).toBe("12 jobs/min");
  });

  it("rounds to three significant digits", () => {
    expect(formatSignificant(0)).toBe("0");
    expect(formatSignificant(0.0042123)).toBe("0.00421");
    expect(formatSignificant(12.345)).toBe("12.3");
    expect(formatSignificant(123_456.7)).toBe("123,457");
    expect(formatSignificant(Number.NaN)).toBe("—");
  });
});

describe("the Pareto plot", () => {
  const box: PlotBox = { width: 200, height: 120, left: 40, right: 10, top: 10, bottom: 30 };

  it("labels the objectives with their units", () => {
    expect(objectiveLabel(DEFAULT_X_OBJECTIVE)).toBe("Makespan (s)");
    expect(objectiveLabel(DEFAULT_Y_OBJECTIVE)).toBe("SLA risk (weighted s late)");
    expect(objectiveLabel(2)).toBe("Energy (J)");
    expect(formatObjective(1, 0.25)).toBe("0.25 tokens");
  });

  it("picks steps of 1, 2 or 5 times a power of ten", () => {
    expect(niceStep(10, 5)).toBe(2);
    expect(niceStep(1, 5)).toBeCloseTo(0.2);
    expect(niceStep(700, 5)).toBe(100);
    expect(niceStep(40, 5)).toBe(10);
  });

  it("covers the values with an axis that starts and ends on a tick", () => {
    expect(niceAxis([3, 9])).toEqual({ domain: [3, 9], ticks: [3, 4, 5, 6, 7, 8, 9] });
    expect(niceAxis([0.1, 0.3])).toEqual({ domain: [0.1, 0.3], ticks: [0.1, 0.15, 0.2, 0.25, 0.3] });
    const wide = niceAxis([12, 987]);
    expect(wide.domain).toEqual([0, 1000]);
    expect(wide.ticks).toEqual([0, 200, 400, 600, 800, 1000]);
  });

  it("gives a flat axis room instead of dividing by zero", () => {
    expect(niceAxis([0, 0, 0])).toEqual({ domain: [0, 1], ticks: [0, 0.2, 0.4, 0.6, 0.8, 1] });
    const single = niceAxis([50]);
    expect(single.domain[0]).toBeLessThan(50);
    expect(single.domain[1]).toBeGreaterThan(50);
    expect(niceAxis([]).domain).toEqual([0, 1]);
  });

  it("places the front, the chosen plan and the FIFO plan in the box", () => {
    const round = {
      front: [
        [10, 0, 0, 8],
        [20, 0, 0, 4],
        [30, 0, 0, 0],
      ] as [number, number, number, number][],
      chosen: 1,
      fifo_first_fit: [40, 0, 0, 10] as [number, number, number, number],
    };
    const scatter = scatterOf(round, 0, 3, box);
    expect(scatter.points.map((p) => p.index)).toEqual([0, 1, 2]);
    expect(scatter.chosen?.index).toBe(1);
    expect(scatter.chosen?.values).toEqual([20, 0, 0, 4]);
    // x: 10…40 on a 10…40 axis over 40…190; y: 0…10 on a 0…10 axis over 90…10 (up is larger).
    expect(scatter.points[0]).toMatchObject({ x: 40, y: 26 });
    expect(scatter.points[2]).toMatchObject({ x: 140, y: 90 });
    expect(scatter.fifo).toMatchObject({ x: 190, y: 10 });
    expect(scatter.xTicks.map((t) => t.label)).toEqual(["10", "15", "20", "25", "30", "35", "40"]);
    expect(scatter.xTicks[0]?.at).toBe(40);
    expect(scatter.xTicks.at(-1)?.at).toBe(190);
    expect(scatter.yTicks[0]).toEqual({ value: 0, at: 90, label: "0" });
    for (const point of [...scatter.points, scatter.fifo]) {
      expect(point.x).toBeGreaterThanOrEqual(box.left);
      expect(point.x).toBeLessThanOrEqual(box.width - box.right);
      expect(point.y).toBeGreaterThanOrEqual(box.top);
      expect(point.y).toBeLessThanOrEqual(box.height - box.bottom);
    }
  });

  it("draws a single plan and an objective that is zero everywhere", () => {
    const scatter = scatterOf({ front: [[5, 0, 0, 0]], chosen: 0, fifo_first_fit: [5, 0, 0, 0] }, 2, 0, box);
    expect(scatter.chosen).toEqual(scatter.points[0]);
    for (const value of [scatter.chosen?.x, scatter.chosen?.y]) expect(Number.isFinite(value)).toBe(true);
  });

  it("has no chosen point when the index is outside the front", () => {
    expect(scatterOf({ front: [], chosen: 0, fifo_first_fit: [1, 1, 1, 1] }, 0, 3, box).chosen).toBeNull();
  });
});

describe("submitting a job", () => {
  const draft = (extra: Partial<SubmitDraft> = {}): SubmitDraft => ({
    source: "example",
    example: "wordcount",
    moduleBase64: null,
    input: "one two two\n",
    inputBase64: null,
    tier: SUBMIT_DEFAULTS.tier,
    deadlineS: SUBMIT_DEFAULTS.deadlineS,
    cpu: SUBMIT_DEFAULTS.cpu,
    memoryMib: SUBMIT_DEFAULTS.memoryMib,
    work: null,
    ...extra,
  });

  it("sends an example with its input and the node's defaults", () => {
    expect(submissionOf(draft())).toEqual({
      request: {
        example: "wordcount",
        input: "one two two\n",
        tier: "silver",
        deadline_s: 600,
        cpu: 1,
        memory_bytes: 256 * 1024 * 1024,
      },
      error: null,
    });
  });

  it("sends an uploaded module, an input file and a work estimate", () => {
    const { request } = submissionOf(
      draft({ source: "module", moduleBase64: "AGFzbQ==", inputBase64: "AAE=", tier: "gold", work: 5e9, memoryMib: 1.5 }),
    );
    expect(request).toEqual({
      module_base64: "AGFzbQ==",
      input_base64: "AAE=",
      tier: "gold",
      deadline_s: 600,
      cpu: 1,
      memory_bytes: 1_572_864,
      work: 5e9,
    });
  });

  it("names the field it cannot send", () => {
    expect(submissionOf(draft({ source: "module" })).error?.field).toBe("module");
    expect(submissionOf(draft({ example: "" })).error?.field).toBe("module");
    expect(submissionOf(draft({ deadlineS: null })).error?.field).toBe("deadline");
    expect(submissionOf(draft({ cpu: 1.5 })).error?.field).toBe("cpu");
    expect(submissionOf(draft({ cpu: null })).error?.field).toBe("cpu");
    expect(submissionOf(draft({ memoryMib: null })).error?.field).toBe("memory");
    expect(submissionOf(draft({ work: Number.NaN })).error?.field).toBe("work");
  });

  it("leaves ranges to the node", () => {
    expect(submissionOf(draft({ deadlineS: -5, cpu: 0 })).request).toMatchObject({ deadline_s: -5, cpu: 0 });
  });

  it("puts the node's refusal next to the field it names", () => {
    expect(submitErrorOf("deadline: the deadline has already passed")).toEqual({
      field: "deadline",
      message: "the deadline has already passed",
    });
    expect(submitErrorOf("deadline_s: seconds from now, at most 2592000 (30 days), not 1e12")).toMatchObject({
      field: "deadline",
    });
    expect(submitErrorOf("module: not a valid WebAssembly module: magic header not detected")).toEqual({
      field: "module",
      message: "not a valid WebAssembly module: magic header not detected",
    });
    expect(submitErrorOf("memory_bytes: between 65536 (64 KiB) and 4294967296 (4 GiB), not 1")).toMatchObject({
      field: "memory",
    });
    expect(submitErrorOf("cpu: between 1 and 64 cores, not 0").field).toBe("cpu");
    expect(submitErrorOf("work: a positive estimate no larger than the fuel limit, not -1").field).toBe("work");
    expect(submitErrorOf("input: module and input are 900000 bytes together").field).toBe("input");
  });

  it("sends other refusals to the top of the form", () => {
    expect(submitErrorOf("give exactly one of example and module_base64")).toEqual({
      field: null,
      message: "give exactly one of example and module_base64",
    });
    expect(submitErrorOf("module_base64 is not base64: Invalid byte 33").field).toBeNull();
    expect(submitErrorOf("timeout_ms: between 1 ms and 24 h, not 0 ms").field).toBeNull();
    expect(submitErrorOf("constructor: x").field).toBeNull();
    expect(submitErrorOf("deadline:").field).toBeNull();
  });

  it("encodes bytes as standard base64", () => {
    expect(bytesToBase64(new Uint8Array([]))).toBe("");
    expect(bytesToBase64(new Uint8Array([0x00, 0x61, 0x73, 0x6d]))).toBe("AGFzbQ==");
    expect(bytesToBase64(new Uint8Array([0xff, 0xfe]))).toBe("//4=");
    const large = new Uint8Array(100_000).map((_, i) => i % 256);
    expect(Buffer.from(bytesToBase64(large), "base64").equals(Buffer.from(large))).toBe(true);
  });
});

describe("tickLabel", () => {
  it("keeps tiny values short and plain ones plain", () => {
    expect(tickLabel(0.00000105)).toBe("1.05e-6");
    expect(tickLabel(9.5e-7)).toBe("9.5e-7");
    expect(tickLabel(0)).toBe("0");
    expect(tickLabel(0.25)).toBe("0.25");
  });
});
