import type {
  ApiError,
  Event,
  HarvestSettings,
  HarvestStats,
  HistoryPoint,
  IdleDevice,
  JobState,
  JobView,
  Mode,
  Reading,
  RunEnd,
  StopReason,
  TimeWindow,
} from "./api/client";
import { formatDuration, shortId } from "./format";
import type { BadgeTone } from "./services";

/** Badge colours on the Idle compute page: the service tones plus "info" for work in progress. */
export type IdleTone = BadgeTone | "info";

/** Events of the harvester (`decision_changed`, `job_*`, `settings_changed`). */
export function isIdleEvent(event: Event): boolean {
  return event.topic === "idle" || event.topic.startsWith("idle.");
}

/** The value of a probe reading, or null when the machine cannot tell. */
export function knownValue<T>(reading: Reading<T>): T | null {
  return "known" in reading ? reading.known : null;
}

/** A reading for display: the formatted value, or "unknown" with the probe's reason. */
export type ReadingText = { text: string; reason: string | null };

export function readingText<T>(reading: Reading<T>, format: (value: T) => string): ReadingText {
  return "known" in reading
    ? { text: format(reading.known), reason: null }
    : { text: "unknown", reason: reading.unknown };
}

export function modeTone(mode: Mode): IdleTone {
  return mode === "run" ? "ok" : mode === "throttle" ? "warn" : "idle";
}

const JOB_TONES: Record<JobState, IdleTone> = {
  queued: "idle",
  running: "info",
  completed: "ok",
  failed: "bad",
  cancelled: "warn",
};

export function jobStateTone(state: JobState): IdleTone {
  return JOB_TONES[state];
}

export function stopReasonText(reason: StopReason): string {
  return reason.kind === "trap" ? `trapped: ${reason.detail}` : `stopped: ${reason.kind.replaceAll("_", " ")}`;
}

/** How a run ended: "exit 0", "exit 2", "stopped: deadline", "trapped: unreachable …". */
export function runEndText(end: RunEnd): string {
  return end.status === "exited" ? `exit ${end.code}` : stopReasonText(end.reason);
}

/** SI magnitudes for instruction counts ("fuel"). */
const SI_UNITS = ["k", "M", "G", "T", "P", "E"] as const;

/** An instruction count such as "950", "12.3 k", "12.3 G". */
export function formatFuel(instructions: number): string {
  if (!Number.isFinite(instructions)) return "unknown";
  if (Math.abs(instructions) < 1000) return String(Math.round(instructions));
  let value = instructions;
  let unit = "";
  for (const next of SI_UNITS) {
    if (Math.abs(value) < 1000) break;
    value /= 1000;
    unit = next;
  }
  return `${value.toFixed(1)} ${unit}`;
}

/** Calibrated sandbox speed on one core, e.g. "1.23 G instr/s"; null until the node has measured it. */
export function formatSpeed(fuelPerSecond: number | null): string {
  if (fuelPerSecond === null || !Number.isFinite(fuelPerSecond)) return "not measured yet";
  const giga = fuelPerSecond / 1e9;
  return `${giga.toFixed(giga < 10 ? 2 : 1)} G instr/s`;
}

/** Tokens asked per 10⁹ instructions; 0 donates for free. */
export function formatPrice(pricePerGigafuel: number): string {
  if (pricePerGigafuel === 0) return "free";
  return `${trimNumber(pricePerGigafuel)} per G instr`;
}

/** A number without trailing zeros, at most 6 decimals ("0.25", "12"). */
export function trimNumber(value: number): string {
  return String(Number(value.toFixed(6)));
}

/** CPU or wall time in seconds: "0.4 s", "12.0 s", "3m 05s". */
export function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "—";
  return seconds < 60 ? `${seconds.toFixed(1)} s` : formatDuration(seconds);
}

/** Milliseconds of CPU or wall time: "850 ms", "12.3 s", "3m 05s". */
export function formatMillis(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "—";
  return ms < 1000 ? `${Math.round(ms)} ms` : formatSeconds(ms / 1000);
}

/**
 * The jobs table: running first, then queued in queue order, then finished ones newest
 * first. A job that changed state between the lists the node assembled is listed once.
 */
export function jobRows(stats: Pick<HarvestStats, "running" | "queued" | "recent">): JobView[] {
  const seen = new Set<number>();
  const rows: JobView[] = [];
  for (const job of [...stats.running, ...stats.queued, ...stats.recent]) {
    if (seen.has(job.id)) continue;
    seen.add(job.id);
    rows.push(job);
  }
  return rows;
}

export function isFinished(state: JobState): boolean {
  return state !== "queued" && state !== "running";
}

/** A finished job as fetched on its own (with its output), or why that failed. */
export type JobDetail = { job: JobView } | { error: ApiError };

/**
 * Finished jobs whose output is still to be fetched. The stats list finished jobs without
 * their output (to stay small), so the page asks for each one once: it never changes again.
 * Only a node that did not answer is asked again.
 */
export function jobsNeedingDetail(rows: readonly JobView[], details: ReadonlyMap<number, JobDetail>): number[] {
  return rows
    .filter((job) => {
      if (!isFinished(job.state)) return false;
      const detail = details.get(job.id);
      return detail === undefined || ("error" in detail && detail.error.code === "unreachable");
    })
    .map((job) => job.id);
}

/**
 * What the result column can show: nothing yet for jobs still queued or running, the
 * output once fetched, or why it could not be.
 */
export type JobOutput = "not_finished" | "loading" | { job: JobView } | { error: ApiError };
export type JobRow = { job: JobView; output: JobOutput };

export function withDetails(rows: readonly JobView[], details: ReadonlyMap<number, JobDetail>): JobRow[] {
  return rows.map((job) => {
    if (!isFinished(job.state)) return { job, output: "not_finished" };
    const detail = details.get(job.id);
    if (detail === undefined) return { job, output: "loading" };
    // The detailed view is the newer one: it was fetched after the job finished.
    return "job" in detail ? { job: detail.job, output: detail } : { job, output: detail };
  });
}

/** The finished job a `job_finished` event carries, with its output; null for other events. */
export function finishedJobOf(event: Event): JobView | null {
  if (!isIdleEvent(event) || event.kind !== "job_finished") return null;
  const job = (event.data as { job?: unknown } | null)?.job;
  return looksLikeJob(job) && isFinished(job.state) ? job : null;
}

function looksLikeJob(value: unknown): value is JobView {
  if (typeof value !== "object" || value === null) return false;
  const job = value as Record<string, unknown>;
  return (
    typeof job.id === "number" &&
    typeof job.label === "string" &&
    typeof job.state === "string" &&
    (job.output_text === null || typeof job.output_text === "string") &&
    typeof job.stderr_text === "string" &&
    typeof job.output_bytes === "number"
  );
}

/** The start of a long text for a table cell, and whether anything was left out. */
export type Preview = { text: string; truncated: boolean; lines: number };

export function previewText(text: string, maxLines = 8, maxChars = 600): Preview {
  const allLines = text.endsWith("\n") ? text.slice(0, -1).split("\n") : text.split("\n");
  let preview = allLines.slice(0, maxLines).join("\n");
  if (preview.length > maxChars) preview = preview.slice(0, maxChars);
  const truncated = preview.length < text.replace(/\n$/, "").length;
  return { text: truncated ? `${preview}…` : text, truncated, lines: allLines.length };
}

/** This node first, then the peers by id, so rows stay put as advertisements arrive. */
export function sortDevices(devices: readonly IdleDevice[]): IdleDevice[] {
  return [...devices].sort((a, b) => {
    if (a.this_node !== b.this_node) return a.this_node ? -1 : 1;
    return a.peer_id < b.peer_id ? -1 : a.peer_id > b.peer_id ? 1 : 0;
  });
}

// ---- Jobs offered to other nodes --------------------------------------------------------

/** How many jobs offered to one peer stay listed under its row, most recent first. */
export const MAX_OFFERED_JOBS = 5;

/** How often a job offered to another node is asked for while it is queued or running. */
export const OFFERED_POLL_MS = 1_000;

/**
 * A job this node offered to another: the latest view that node gave of it (its `id` is the
 * other node's), and why the last query for it failed, if it did.
 */
export type OfferedJob = { job: JobView; error: ApiError | null };

/** "Accepted by 12D3Ko…abcdef as job #7": the answer to an offer, `job` as the peer queued it. */
export function acceptedText(peer: string, job: Pick<JobView, "id">): string {
  return `Accepted by ${shortId(peer)} as job #${job.id}`;
}

/** The list with a newly accepted job first, keeping at most `MAX_OFFERED_JOBS`. */
export function withOfferedJob(list: readonly OfferedJob[], job: JobView): OfferedJob[] {
  return [{ job, error: null }, ...list.filter((entry) => entry.job.id !== job.id)].slice(0, MAX_OFFERED_JOBS);
}

/**
 * The list with the peer's latest answer about one of its jobs. A job no longer listed stays
 * out, and a finished job never goes back to queued or running (an answer that was overtaken).
 */
export function withRemoteJob(list: readonly OfferedJob[], job: JobView): OfferedJob[] {
  return list.map((entry) => {
    if (entry.job.id !== job.id) return entry;
    if (isFinished(entry.job.state) && !isFinished(job.state)) return entry;
    return { job, error: null };
  });
}

/** The list with the reason the last query for job `id` failed; the last known view stays. */
export function withRemoteError(list: readonly OfferedJob[], id: number, error: ApiError): OfferedJob[] {
  return list.map((entry) => (entry.job.id === id ? { ...entry, error } : entry));
}

/**
 * Whether to keep asking the peer about an offered job: until it is completed, failed or
 * cancelled, and only while it is listed (`undefined` once dropped from the list). Closing
 * the form or leaving the page stops the polling as well, by unmounting it.
 */
export function keepPollingOffered(entry: OfferedJob | undefined): boolean {
  return entry !== undefined && !isFinished(entry.job.state);
}

/** The device-history series drawn as sparklines. */
export type HistoryKey = "cpu_load_pct" | "other_cpu_pct" | "temperature_c" | "battery_pct";

/**
 * Chart columns of one history series: x in seconds, y (null leaves a gap). Null when
 * every point is null: the machine does not report that reading, so there is nothing to draw.
 */
export function historyColumns(
  history: readonly HistoryPoint[],
  key: HistoryKey,
): [number[], (number | null)[]] | null {
  const values = history.map((point) => point[key]);
  if (values.every((value) => value === null)) return null;
  return [history.map((point) => point.at_ms / 1000), values];
}

/** Seconds between the oldest and newest history point (0 for fewer than two). */
export function historySpanSeconds(history: readonly HistoryPoint[]): number {
  const first = history[0];
  const last = history.at(-1);
  return first && last ? Math.max(0, (last.at_ms - first.at_ms) / 1000) : 0;
}

// ---- Donation settings ------------------------------------------------------------------

type FieldKind = "switch" | "number" | "whole" | "windows";

/**
 * Every settings field and how the form edits it. Typed as a complete record, so a field
 * added on the Rust side fails the type check here until the form shows it.
 */
export const SETTINGS_FIELDS: Readonly<Record<keyof HarvestSettings, FieldKind>> = {
  enabled: "switch",
  run_on_batteries: "switch",
  battery_stop_below_pct: "number",
  battery_resume_above_pct: "number",
  idle_minutes: "number",
  run_while_in_use: "switch",
  unknown_idle_is_idle: "switch",
  other_cpu_suspend_pct: "number",
  other_cpu_grace_secs: "whole",
  max_cores_idle: "whole",
  max_cores_in_use: "whole",
  cpu_pct_idle: "whole",
  cpu_pct_in_use: "whole",
  temperature_stop_c: "number",
  temperature_resume_c: "number",
  windows: "windows",
  ram_pct_idle: "whole",
  ram_pct_in_use: "whole",
  price_per_gigafuel: "number",
};

export type SettingsField = keyof HarvestSettings;
export type NumberField = {
  [K in SettingsField]: HarvestSettings[K] extends number ? K : never;
}[SettingsField];

/** The form's copy of the settings: a number input left empty holds null. */
export type SettingsDraft = {
  [K in SettingsField]: HarvestSettings[K] extends number ? number | null : HarvestSettings[K];
};

export function draftOf(settings: HarvestSettings): SettingsDraft {
  return { ...settings, windows: settings.windows.map((w) => ({ ...w, days: [...w.days] })) };
}

/**
 * Where a settings error belongs: the node names the field before the first colon
 * ("cpu_pct_idle: must be 1 to 100, got 0", "windows[2]: start \"7\" is not HH:MM").
 * `field` is a settings field or `windows[i]`; null sends the message to the top of the form.
 */
export type FieldError = { field: string | null; message: string };

export function settingsErrorOf(message: string): FieldError {
  const colon = message.indexOf(":");
  if (colon > 0) {
    const name = message.slice(0, colon).trim();
    const rest = message.slice(colon + 1).trim();
    const window = /^windows\[(\d+)\]$/.exec(name);
    if (rest !== "" && (Object.hasOwn(SETTINGS_FIELDS, name) || window)) return { field: name, message: rest };
  }
  return { field: null, message };
}

/** The error key of one time window row. */
export function windowField(index: number): string {
  return `windows[${index}]`;
}

/**
 * The settings to send, or the first field that cannot be sent as it is (an empty number,
 * a fraction where the node takes a whole number). Ranges are the node's to check.
 */
export function settingsFromDraft(
  draft: SettingsDraft,
): { settings: HarvestSettings; error: null } | { settings: null; error: FieldError } {
  const settings: Record<string, unknown> = { ...draft };
  for (const [field, kind] of Object.entries(SETTINGS_FIELDS)) {
    if (kind !== "number" && kind !== "whole") continue;
    const value = draft[field as NumberField];
    if (value === null || typeof value !== "number" || !Number.isFinite(value)) {
      return { settings: null, error: { field, message: "enter a number" } };
    }
    if (kind === "whole" && (!Number.isInteger(value) || value < 0)) {
      return { settings: null, error: { field, message: `must be a whole number, 0 or more, got ${value}` } };
    }
  }
  settings.windows = draft.windows.map(
    (w): TimeWindow => ({ days: [...new Set(w.days)].sort((a, b) => a - b), start: w.start.trim(), end: w.end.trim() }),
  );
  return { settings: settings as HarvestSettings, error: null };
}

/** Whether the form differs from the saved settings. */
export function isDirty(draft: SettingsDraft, saved: HarvestSettings): boolean {
  return JSON.stringify(draft) !== JSON.stringify(draftOf(saved));
}

/** Day names of `TimeWindow.days`, 0 = Monday. */
export const WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"] as const;

export function toggleDay(days: readonly number[], day: number): number[] {
  return days.includes(day) ? days.filter((d) => d !== day) : [...days, day].sort((a, b) => a - b);
}

// ---- Whole job output -------------------------------------------------------------------

/** Where the whole output of a job can be had: only from this node, for its own job ids. */
export type LoadOutput = (id: number) => Promise<Uint8Array<ArrayBuffer>>;

/** A greyscale image decoded from a binary PGM file: one byte per pixel, row by row. */
export type PgmImage = { width: number; height: number; maxval: number; pixels: Uint8Array };

/** The largest width and height shown as an image (4096 × 4096 is 64 MiB as RGBA). */
export const MAX_PGM_SIDE = 4096;

const ASCII_HASH = 0x23;
const ASCII_0 = 0x30;
const ASCII_9 = 0x39;
const ASCII_P = 0x50;
const ASCII_5 = 0x35;

/** Netpbm whitespace: blank, TAB, LF, VT, FF, CR. */
function isPgmSpace(byte: number | undefined): boolean {
  return byte === 0x20 || (byte !== undefined && byte >= 0x09 && byte <= 0x0d);
}

/** Whether the bytes start like a binary PGM image ("P5" and whitespace). */
export function looksLikePgm(bytes: Uint8Array): boolean {
  return bytes[0] === ASCII_P && bytes[1] === ASCII_5 && isPgmSpace(bytes[2]);
}

/**
 * Decodes a binary PGM ("P5") image with one byte per pixel: the magic number, then width,
 * height and maxval (1 to 255) separated by whitespace and `#` comments, exactly one whitespace
 * byte, then width × height bytes. Bytes after the image are ignored, as Netpbm does. Images
 * wider or taller than `MAX_PGM_SIDE` are refused rather than drawn.
 */
export function decodePgm(bytes: Uint8Array): { image: PgmImage } | { error: string } {
  if (bytes[0] !== ASCII_P || bytes[1] !== ASCII_5) return { error: "it does not start with the PGM magic number P5" };
  let at = 2;

  // A comment runs from '#' to the end of its line; the line break stays, as whitespace.
  const skipComment = () => {
    while (at < bytes.length && bytes[at] !== 0x0a && bytes[at] !== 0x0d) at += 1;
  };
  // Whitespace and comments before a number; at least one whitespace byte or comment.
  const skipSeparators = (): boolean => {
    const start = at;
    while (at < bytes.length) {
      if (isPgmSpace(bytes[at])) at += 1;
      else if (bytes[at] === ASCII_HASH) skipComment();
      else break;
    }
    return at > start;
  };
  const readNumber = (name: string): number | string => {
    if (!skipSeparators()) return `no whitespace before the ${name}`;
    const start = at;
    let value = 0;
    while (at < bytes.length) {
      const byte = bytes[at] ?? 0;
      if (byte < ASCII_0 || byte > ASCII_9) break;
      // More digits than any accepted value has cannot be right; stop before they overflow.
      if (at - start >= 9) return `the ${name} is too large`;
      value = value * 10 + (byte - ASCII_0);
      at += 1;
    }
    if (at === start) return at >= bytes.length ? `the header ends before the ${name}` : `the ${name} is not a number`;
    return value;
  };

  const width = readNumber("width");
  if (typeof width === "string") return { error: width };
  const height = readNumber("height");
  if (typeof height === "string") return { error: height };
  const maxval = readNumber("maximum grey value");
  if (typeof maxval === "string") return { error: maxval };

  if (width === 0 || height === 0) return { error: `the image is empty (${width} × ${height})` };
  if (width > MAX_PGM_SIDE || height > MAX_PGM_SIDE) {
    return { error: `${width} × ${height} is larger than ${MAX_PGM_SIDE} × ${MAX_PGM_SIDE}` };
  }
  if (maxval === 0 || maxval > 255) {
    return { error: `a maximum grey value of ${maxval} is not supported (1 to 255 is)` };
  }
  // A comment may come even between the maximum grey value and the whitespace that ends the header.
  if (bytes[at] === ASCII_HASH) skipComment();
  if (!isPgmSpace(bytes[at])) {
    return { error: at >= bytes.length ? "the header ends before the image data" : "no whitespace after the maximum grey value" };
  }
  at += 1;

  const size = width * height;
  const available = bytes.length - at;
  if (available < size) return { error: `the image data is cut short: ${available} of ${size} bytes` };
  return { image: { width, height, maxval, pixels: bytes.subarray(at, at + size) } };
}

/** The image as canvas pixels: each grey value scaled from 0…maxval to 0…255, opaque. */
export function pgmToRgba(image: PgmImage): Uint8ClampedArray<ArrayBuffer> {
  const count = image.width * image.height;
  const rgba = new Uint8ClampedArray(count * 4);
  const scale = 255 / image.maxval;
  for (let i = 0; i < count; i++) {
    const grey = Math.round((image.pixels[i] ?? 0) * scale);
    const at = i * 4;
    rgba[at] = grey;
    rgba[at + 1] = grey;
    rgba[at + 2] = grey;
    rgba[at + 3] = 255;
  }
  return rgba;
}

/**
 * The name a job's output is saved under: `job-7-mandelbrot.pgm` for a PGM image,
 * `job-7-<label>.bin` otherwise, with the label reduced to characters safe in file names.
 */
export function outputFileName(job: Pick<JobView, "id" | "label">, bytes: Uint8Array): string {
  const label = job.label
    .replace(/[^A-Za-z0-9._-]+/g, "_")
    .replace(/^[._-]+|[._-]+$/g, "")
    .slice(0, 64)
    .replace(/[._-]+$/, "");
  const extension = looksLikePgm(bytes) ? "pgm" : "bin";
  return label === "" ? `job-${job.id}.${extension}` : `job-${job.id}-${label}.${extension}`;
}
