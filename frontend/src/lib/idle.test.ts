import { describe, expect, it } from "vitest";
import type { Event, HarvestSettings, HistoryPoint, IdleDevice, JobState, JobView } from "./api/client";
import {
  MAX_OFFERED_JOBS,
  MAX_PGM_SIDE,
  SETTINGS_FIELDS,
  acceptedText,
  decodePgm,
  draftOf,
  finishedJobOf,
  formatFuel,
  formatMillis,
  formatPrice,
  formatSeconds,
  formatSpeed,
  historyColumns,
  historySpanSeconds,
  isDirty,
  isIdleEvent,
  jobRows,
  withDetails,
  type JobDetail,
  jobStateTone,
  jobsNeedingDetail,
  keepPollingOffered,
  knownValue,
  looksLikePgm,
  modeTone,
  outputFileName,
  pgmToRgba,
  previewText,
  readingText,
  runEndText,
  settingsErrorOf,
  settingsFromDraft,
  sortDevices,
  toggleDay,
  withOfferedJob,
  withRemoteError,
  withRemoteJob,
  type OfferedJob,
} from "./idle";

const job = (id: number, state: JobState, extra: Partial<JobView> = {}): JobView => ({
  id,
  label: `job ${id}`,
  origin: "local",
  module_hash: "ab",
  state,
  attempts: 1,
  preemptions: 0,
  submitted_ms: 1_000,
  started_ms: null,
  finished_ms: null,
  end: null,
  limits: { memory_bytes: 1, fuel: 1, timeout_ms: 1, output_bytes: 1 },
  input_bytes: 0,
  output_bytes: 0,
  output_text: "",
  stderr_text: "",
  fuel_used: 0,
  cpu_ms: 0,
  wall_ms: 0,
  peak_memory_bytes: 0,
  ...extra,
});

const event = (topic: string, kind: string, data: unknown = {}): Event => ({ id: 1, ts_ms: 0, topic, kind, data });

const settings: HarvestSettings = {
  enabled: true,
  run_on_batteries: false,
  battery_stop_below_pct: 40,
  battery_resume_above_pct: 50,
  idle_minutes: 3,
  run_while_in_use: false,
  unknown_idle_is_idle: true,
  other_cpu_suspend_pct: 25,
  other_cpu_grace_secs: 10,
  max_cores_idle: 0,
  max_cores_in_use: 1,
  cpu_pct_idle: 100,
  cpu_pct_in_use: 50,
  temperature_stop_c: 85,
  temperature_resume_c: 75,
  windows: [{ days: [4, 0], start: "22:00", end: "06:00" }],
  ram_pct_idle: 75,
  ram_pct_in_use: 25,
  price_per_gigafuel: 0,
};

describe("isIdleEvent", () => {
  it("matches the idle topic and its children only", () => {
    expect(isIdleEvent(event("idle", "decision_changed"))).toBe(true);
    expect(isIdleEvent(event("idle.jobs", "x"))).toBe(true);
    expect(isIdleEvent(event("idler", "x"))).toBe(false);
    expect(isIdleEvent(event("mesh", "peer_connected"))).toBe(false);
  });
});

describe("readings", () => {
  it("give the value or unknown with the reason", () => {
    expect(knownValue({ known: 42 })).toBe(42);
    expect(knownValue({ known: false })).toBe(false);
    expect(knownValue({ unknown: "no battery" })).toBeNull();
    expect(readingText({ known: 87.4 }, (v) => `${v.toFixed(0)} %`)).toEqual({ text: "87 %", reason: null });
    expect(readingText({ unknown: "no battery" }, String)).toEqual({ text: "unknown", reason: "no battery" });
  });
});

describe("tones", () => {
  it("colour modes and job states", () => {
    expect([modeTone("run"), modeTone("throttle"), modeTone("pause")]).toEqual(["ok", "warn", "idle"]);
    expect(jobStateTone("failed")).toBe("bad");
    expect(jobStateTone("running")).toBe("info");
  });
});

describe("runEndText", () => {
  it("names exits, stops and traps", () => {
    expect(runEndText({ status: "exited", code: 0 })).toBe("exit 0");
    expect(runEndText({ status: "exited", code: 2 })).toBe("exit 2");
    expect(runEndText({ status: "stopped", reason: { kind: "deadline" } })).toBe("stopped: deadline");
    expect(runEndText({ status: "stopped", reason: { kind: "fuel_exhausted" } })).toBe("stopped: fuel exhausted");
    expect(runEndText({ status: "stopped", reason: { kind: "trap", detail: "wasm `unreachable` executed" } })).toBe(
      "trapped: wasm `unreachable` executed",
    );
  });
});

describe("number formats", () => {
  it("scale instruction counts with SI prefixes", () => {
    expect(formatFuel(0)).toBe("0");
    expect(formatFuel(950)).toBe("950");
    expect(formatFuel(12_300)).toBe("12.3 k");
    expect(formatFuel(12_345_678_901)).toBe("12.3 G");
    expect(formatFuel(2e11)).toBe("200.0 G");
  });

  it("show the speed per core, or that it is not measured yet", () => {
    expect(formatSpeed(1.234e9)).toBe("1.23 G instr/s");
    expect(formatSpeed(12.34e9)).toBe("12.3 G instr/s");
    expect(formatSpeed(null)).toBe("not measured yet");
  });

  it("show the price, 0 as free", () => {
    expect(formatPrice(0)).toBe("free");
    expect(formatPrice(0.25)).toBe("0.25 per G instr");
    expect(formatPrice(0.1 + 0.2)).toBe("0.3 per G instr");
  });

  it("show CPU and wall times", () => {
    expect(formatSeconds(0.44)).toBe("0.4 s");
    expect(formatSeconds(185)).toBe("3m 05s");
    expect(formatMillis(850)).toBe("850 ms");
    expect(formatMillis(12_340)).toBe("12.3 s");
    expect(formatMillis(-1)).toBe("—");
  });
});

describe("jobs", () => {
  it("list running, queued, then finished jobs, each once", () => {
    const rows = jobRows({
      running: [job(3, "running")],
      queued: [job(5, "queued"), job(4, "queued")],
      recent: [job(3, "completed"), job(2, "failed")],
    });
    expect(rows.map((r) => [r.id, r.state])).toEqual([
      [3, "running"],
      [5, "queued"],
      [4, "queued"],
      [2, "failed"],
    ]);
  });

  it("ask once for the output of finished jobs, again only when the node did not answer", () => {
    const rows = [job(1, "running"), job(2, "completed"), job(3, "cancelled"), job(4, "failed"), job(5, "failed")];
    const details = new Map<number, JobDetail>([
      [4, { job: job(4, "failed") }],
      [5, { error: { code: "not_found", message: "no job 5" } }],
      [3, { error: { code: "unreachable", message: "Cannot reach the node" } }],
    ]);
    expect(jobsNeedingDetail(rows, details)).toEqual([2, 3]);
  });

  it("pair finished jobs with their fetched output", () => {
    const fetched = job(2, "completed", { output_text: "42\n", output_bytes: 3 });
    const failure = { error: { code: "not_found", message: "no job 3" } };
    const details = new Map<number, JobDetail>([
      [2, { job: fetched }],
      [3, failure],
    ]);
    const rows = withDetails([job(1, "running"), job(2, "completed"), job(3, "failed"), job(4, "failed")], details);
    expect(rows.map((r) => r.output)).toEqual(["not_finished", { job: fetched }, failure, "loading"]);
    expect(rows[1]?.job).toBe(fetched);
  });

  it("take finished jobs from job_finished events", () => {
    const done = job(7, "completed", { output_text: "5761455\n", output_bytes: 8 });
    expect(finishedJobOf(event("idle", "job_finished", { job: done }))).toEqual(done);
    expect(finishedJobOf(event("idle", "job_started", { job: done }))).toBeNull();
    expect(finishedJobOf(event("idle", "job_finished", { job: { id: "7" } }))).toBeNull();
    expect(finishedJobOf(event("idle", "job_finished", null))).toBeNull();
    expect(finishedJobOf(event("mesh", "job_finished", { job: done }))).toBeNull();
  });

  it("preview long output", () => {
    expect(previewText("5761455\n")).toEqual({ text: "5761455\n", truncated: false, lines: 1 });
    const many = Array.from({ length: 20 }, (_, i) => `line ${i}`).join("\n");
    expect(previewText(many, 2)).toEqual({ text: "line 0\nline 1…", truncated: true, lines: 20 });
    expect(previewText("x".repeat(50), 8, 10)).toEqual({ text: `${"x".repeat(10)}…`, truncated: true, lines: 1 });
  });
});

describe("jobs offered to other nodes", () => {
  const peer = "12D3KooWAbCdEfGhIjKlMnOpQrStUvWxYz";
  const ids = (list: readonly OfferedJob[]) => list.map((entry) => entry.job.id);

  it("words the acceptance with the peer's short id and its job id", () => {
    expect(acceptedText(peer, job(7, "queued"))).toBe("Accepted by 12D3Ko…UvWxYz as job #7");
    expect(acceptedText("short", job(0, "queued"))).toBe("Accepted by short as job #0");
  });

  it("lists the most recent offer first and keeps a few", () => {
    let list: OfferedJob[] = [];
    for (let id = 1; id <= MAX_OFFERED_JOBS + 2; id++) list = withOfferedJob(list, job(id, "queued"));
    expect(MAX_OFFERED_JOBS).toBe(5);
    expect(ids(list)).toEqual([7, 6, 5, 4, 3]);
    expect(list.every((entry) => entry.error === null)).toBe(true);
    // The same job accepted again (the peer restarted its ids) replaces the old entry.
    expect(ids(withOfferedJob(list, job(5, "queued")))).toEqual([5, 7, 6, 4, 3]);
  });

  it("takes the peer's answers and failures", () => {
    const failure = { code: "unreachable", message: "not connected to peer" };
    let list = withOfferedJob(withOfferedJob([], job(1, "queued")), job(2, "queued"));
    list = withRemoteError(list, 1, failure);
    expect(list[1]).toEqual({ job: job(1, "queued"), error: failure });
    expect(list[0]?.error).toBeNull();
    list = withRemoteJob(list, job(1, "running"));
    expect(list[1]).toEqual({ job: job(1, "running"), error: null });
    list = withRemoteJob(list, job(1, "completed", { output_text: "2 3 5\n" }));
    expect(list[1]?.job.state).toBe("completed");
    // An overtaken answer does not take a finished job back, and unknown jobs stay out.
    expect(withRemoteJob(list, job(1, "running"))).toEqual(list);
    expect(ids(withRemoteJob(list, job(9, "running")))).toEqual([2, 1]);
    expect(ids(withRemoteError(list, 9, failure))).toEqual([2, 1]);
  });

  it("polls until the job is finished or no longer listed", () => {
    const states: JobState[] = ["queued", "running", "completed", "failed", "cancelled"];
    expect(states.map((state) => keepPollingOffered({ job: job(1, state), error: null }))).toEqual([
      true,
      true,
      false,
      false,
      false,
    ]);
    expect(keepPollingOffered({ job: job(1, "running"), error: { code: "unreachable", message: "x" } })).toBe(true);
    expect(keepPollingOffered(undefined)).toBe(false);
  });
});

describe("sortDevices", () => {
  const device = (peer_id: string, this_node = false) => ({ peer_id, this_node }) as IdleDevice;

  it("puts this node first, then peers by id", () => {
    const devices = [device("c"), device("b", true), device("a")];
    expect(sortDevices(devices).map((d) => d.peer_id)).toEqual(["b", "a", "c"]);
    expect(devices.map((d) => d.peer_id)).toEqual(["c", "b", "a"]);
  });
});

describe("history", () => {
  const point = (at_ms: number, cpu: number | null, battery: number | null = null): HistoryPoint => ({
    at_ms,
    cpu_load_pct: cpu,
    other_cpu_pct: cpu,
    temperature_c: null,
    battery_pct: battery,
    mode: "run",
    running_jobs: 0,
  });

  it("gives chart columns in seconds, keeping gaps", () => {
    const history = [point(1_000, 10), point(2_000, null), point(3_000, 30)];
    expect(historyColumns(history, "cpu_load_pct")).toEqual([
      [1, 2, 3],
      [10, null, 30],
    ]);
  });

  it("skips a series the machine never reports", () => {
    expect(historyColumns([point(1_000, 10), point(2_000, 20)], "battery_pct")).toBeNull();
    expect(historyColumns([], "cpu_load_pct")).toBeNull();
  });

  it("measures the span it covers", () => {
    expect(historySpanSeconds([point(1_000, 1), point(601_000, 1)])).toBe(600);
    expect(historySpanSeconds([point(1_000, 1)])).toBe(0);
    expect(historySpanSeconds([])).toBe(0);
  });
});

describe("settings errors", () => {
  it("put the message next to the field the node names", () => {
    expect(settingsErrorOf("cpu_pct_idle: must be 1 to 100, got 0")).toEqual({
      field: "cpu_pct_idle",
      message: "must be 1 to 100, got 0",
    });
    expect(settingsErrorOf('windows[2]: start "7" is not HH:MM')).toEqual({
      field: "windows[2]",
      message: 'start "7" is not HH:MM',
    });
  });

  it("keep other messages for the top of the form", () => {
    for (const message of [
      "the store is read-only",
      "Failed to parse the request body as JSON: expected value at line 1 column 1",
      "constructor: nope",
      "windows[x]: nope",
      "cpu_pct_idle:",
    ]) {
      expect(settingsErrorOf(message)).toEqual({ field: null, message });
    }
  });
});

describe("settings draft", () => {
  it("covers every field of the settings", () => {
    expect(Object.keys(SETTINGS_FIELDS).sort()).toEqual(Object.keys(settings).sort());
  });

  it("is a deep copy that round-trips", () => {
    const draft = draftOf(settings);
    draft.windows[0]?.days.push(6);
    expect(settings.windows[0]?.days).toEqual([4, 0]);
    const back = settingsFromDraft(draftOf(settings));
    expect(back.error).toBeNull();
    expect(back.settings).toEqual({ ...settings, windows: [{ days: [0, 4], start: "22:00", end: "06:00" }] });
  });

  it("refuses empty numbers and fractions where the node takes whole numbers", () => {
    expect(settingsFromDraft({ ...draftOf(settings), idle_minutes: null }).error).toEqual({
      field: "idle_minutes",
      message: "enter a number",
    });
    expect(settingsFromDraft({ ...draftOf(settings), cpu_pct_idle: 12.5 }).error).toEqual({
      field: "cpu_pct_idle",
      message: "must be a whole number, 0 or more, got 12.5",
    });
    expect(settingsFromDraft({ ...draftOf(settings), idle_minutes: 0.5 }).error).toBeNull();
  });

  it("leaves range checks to the node", () => {
    const sent = settingsFromDraft({ ...draftOf(settings), cpu_pct_idle: 0, battery_stop_below_pct: 140 });
    expect(sent.settings).toMatchObject({ cpu_pct_idle: 0, battery_stop_below_pct: 140 });
  });

  it("trims times and orders days", () => {
    const draft = { ...draftOf(settings), windows: [{ days: [3, 1, 3], start: " 09:00", end: "17:00 " }] };
    expect(settingsFromDraft(draft).settings?.windows).toEqual([{ days: [1, 3], start: "09:00", end: "17:00" }]);
  });

  it("knows when it differs from the saved settings", () => {
    const draft = draftOf(settings);
    expect(isDirty(draft, settings)).toBe(false);
    draft.enabled = false;
    expect(isDirty(draft, settings)).toBe(true);
  });

  it("toggles days in order", () => {
    expect(toggleDay([4], 0)).toEqual([0, 4]);
    expect(toggleDay([0, 4], 4)).toEqual([0]);
  });
});

/** A PGM file: the header as text, then the raster bytes. */
const pgm = (header: string, raster: number[] = []): Uint8Array =>
  new Uint8Array([...new TextEncoder().encode(header), ...raster]);

describe("decodePgm", () => {
  it("decodes a binary PGM image as the Mandelbrot example writes it", () => {
    const raster = [0, 32, 64, 96, 128, 160, 192, 255];
    const result = decodePgm(pgm("P5\n4 2\n255\n", raster));
    if (!("image" in result)) throw new Error(result.error);
    expect(result.image).toMatchObject({ width: 4, height: 2, maxval: 255 });
    expect([...result.image.pixels]).toEqual(raster);
  });

  it("takes any whitespace between the header fields and ignores bytes after the image", () => {
    const result = decodePgm(pgm("P5 \t2\r\n 1  \n15\r", [5, 15, 99, 99]));
    if (!("image" in result)) throw new Error(result.error);
    expect(result.image).toMatchObject({ width: 2, height: 1, maxval: 15 });
    expect([...result.image.pixels]).toEqual([5, 15]);
  });

  it("keeps a raster that starts with whitespace or '#' bytes", () => {
    // Exactly one whitespace byte ends the header; what follows is image data.
    const result = decodePgm(pgm("P5\n3 1\n255\n", [0x0a, 0x23, 0x20]));
    if (!("image" in result)) throw new Error(result.error);
    expect([...result.image.pixels]).toEqual([0x0a, 0x23, 0x20]);
  });

  it("skips comments in the header", () => {
    const header = "P5\n# made by mandelbrot.wasm\n2 # width\n#height next\n2\n# maxval\n255\n";
    const result = decodePgm(pgm(header, [1, 2, 3, 4]));
    if (!("image" in result)) throw new Error(result.error);
    expect(result.image).toMatchObject({ width: 2, height: 2, maxval: 255 });
    expect([...result.image.pixels]).toEqual([1, 2, 3, 4]);
    expect(decodePgm(pgm("P5#comment\r2 1 255\n", [1, 2]))).toHaveProperty("image");
    // A comment right after the maximum grey value ends with the one whitespace byte before the data.
    const late = decodePgm(pgm("P5\n2 1\n255# late\n", [1, 2]));
    if (!("image" in late)) throw new Error(late.error);
    expect([...late.image.pixels]).toEqual([1, 2]);
  });

  it("rejects truncated image data", () => {
    expect(decodePgm(pgm("P5\n4 2\n255\n", [1, 2, 3]))).toEqual({
      error: "the image data is cut short: 3 of 8 bytes",
    });
    expect(decodePgm(pgm("P5\n4 2\n255\n"))).toHaveProperty("error");
  });

  it("rejects a truncated header", () => {
    for (const header of ["P5", "P5\n", "P5\n4", "P5\n4 2", "P5\n4 2\n", "P5\n4 2\n255", "P5\n4 2 # no end"]) {
      expect(decodePgm(pgm(header)), header).toHaveProperty("error");
    }
  });

  it("rejects other formats", () => {
    for (const header of ["P2\n1 1\n255\n", "P6\n1 1\n255\n", "p5\n1 1\n255\n", "GIF89a", "", "P51 1\n255\n"]) {
      expect(decodePgm(pgm(header, [0, 0, 0])), header).toHaveProperty("error");
    }
    expect(decodePgm(pgm("P2\n1 1\n255\n", [0]))).toEqual({
      error: "it does not start with the PGM magic number P5",
    });
  });

  it("rejects a maximum grey value above 255 or of 0", () => {
    expect(decodePgm(pgm("P5\n1 1\n256\n", [0, 0]))).toEqual({
      error: "a maximum grey value of 256 is not supported (1 to 255 is)",
    });
    expect(decodePgm(pgm("P5\n1 1\n65535\n", [0, 0]))).toHaveProperty("error");
    expect(decodePgm(pgm("P5\n1 1\n0\n", [0]))).toHaveProperty("error");
  });

  it("rejects images larger than it draws, and empty ones", () => {
    expect(decodePgm(pgm(`P5\n${MAX_PGM_SIDE + 1} 1\n255\n`))).toEqual({
      error: `${MAX_PGM_SIDE + 1} × 1 is larger than ${MAX_PGM_SIDE} × ${MAX_PGM_SIDE}`,
    });
    expect(decodePgm(pgm(`P5\n1 ${MAX_PGM_SIDE + 1}\n255\n`))).toHaveProperty("error");
    expect(decodePgm(pgm("P5\n99999999999999999999 1\n255\n"))).toHaveProperty("error");
    expect(decodePgm(pgm("P5\n0 4\n255\n"))).toHaveProperty("error");
    const widest = decodePgm(new Uint8Array([...pgm(`P5\n${MAX_PGM_SIDE} 1\n255\n`), ...new Uint8Array(MAX_PGM_SIDE)]));
    expect(widest).toHaveProperty("image.width", MAX_PGM_SIDE);
  });

  it("rejects fields that are not numbers", () => {
    expect(decodePgm(pgm("P5\nwide 1\n255\n", [0]))).toHaveProperty("error");
    expect(decodePgm(pgm("P5\n-1 1\n255\n", [0]))).toHaveProperty("error");
    expect(decodePgm(pgm("P5\n1 1\n255x", [0]))).toHaveProperty("error");
  });
});

describe("pgmToRgba", () => {
  it("turns grey values into opaque RGBA pixels scaled to 0…255", () => {
    const image = { width: 3, height: 1, maxval: 15, pixels: new Uint8Array([0, 15, 5]) };
    expect([...pgmToRgba(image)]).toEqual([0, 0, 0, 255, 255, 255, 255, 255, 85, 85, 85, 255]);
    const full = { width: 1, height: 1, maxval: 255, pixels: new Uint8Array([200]) };
    expect([...pgmToRgba(full)]).toEqual([200, 200, 200, 255]);
  });

  it("clamps values above the maximum", () => {
    const image = { width: 1, height: 1, maxval: 100, pixels: new Uint8Array([200]) };
    expect([...pgmToRgba(image)]).toEqual([255, 255, 255, 255]);
  });
});

describe("outputFileName", () => {
  const image = pgm("P5\n1 1\n255\n", [0]);
  const binary = new Uint8Array([0, 1, 2]);

  it("names PGM images .pgm and anything else .bin", () => {
    expect(outputFileName({ id: 7, label: "mandelbrot" }, image)).toBe("job-7-mandelbrot.pgm");
    expect(outputFileName({ id: 8, label: "sieve" }, binary)).toBe("job-8-sieve.bin");
    expect(outputFileName({ id: 9, label: "x" }, new Uint8Array())).toBe("job-9-x.bin");
    expect(looksLikePgm(image)).toBe(true);
    expect(looksLikePgm(new TextEncoder().encode("P5x"))).toBe(false);
    expect(looksLikePgm(new TextEncoder().encode("P6\n"))).toBe(false);
  });

  it("keeps only characters safe in file names", () => {
    expect(outputFileName({ id: 1, label: "../etc/passwd" }, binary)).toBe("job-1-etc_passwd.bin");
    expect(outputFileName({ id: 2, label: "my job: tile 3/4" }, binary)).toBe("job-2-my_job_tile_3_4.bin");
    expect(outputFileName({ id: 3, label: "" }, binary)).toBe("job-3.bin");
    expect(outputFileName({ id: 4, label: "///" }, image)).toBe("job-4.pgm");
    expect(outputFileName({ id: 5, label: "a".repeat(200) }, binary)).toBe(`job-5-${"a".repeat(64)}.bin`);
  });
});
