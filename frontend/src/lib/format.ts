const BINARY_UNITS = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"] as const;

/** Human bytes in binary units ("512 B", "1.5 KiB", "12.3 MiB"); "unknown" for null. */
export function formatBytes(bytes: number | null): string {
  if (bytes === null || !Number.isFinite(bytes)) return "unknown";
  if (Math.abs(bytes) < 1024) return `${Math.round(bytes)} B`;
  let value = bytes;
  let unit: string = "B";
  for (const next of BINARY_UNITS) {
    if (Math.abs(value) < 1024) break;
    value /= 1024;
    unit = next;
  }
  return `${value.toFixed(1)} ${unit}`;
}

const pad2 = (n: number) => String(n).padStart(2, "0");

/** Durations such as "42s", "5m 07s", "3h 04m 05s", "2d 03h 04m 05s". */
export function formatDuration(totalSeconds: number): string {
  if (!Number.isFinite(totalSeconds) || totalSeconds < 0) return "—";
  const s = Math.floor(totalSeconds);
  const days = Math.floor(s / 86_400);
  const hours = Math.floor((s % 86_400) / 3_600);
  const minutes = Math.floor((s % 3_600) / 60);
  const seconds = s % 60;
  if (days > 0) return `${days}d ${pad2(hours)}h ${pad2(minutes)}m ${pad2(seconds)}s`;
  if (hours > 0) return `${hours}h ${pad2(minutes)}m ${pad2(seconds)}s`;
  if (minutes > 0) return `${minutes}m ${pad2(seconds)}s`;
  return `${seconds}s`;
}

/** A round-trip time such as "12.3 ms"; "—" while there is none yet (null). */
export function formatLatency(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return "—";
  return `${ms.toFixed(1)} ms`;
}

/** "12.3 %"; values above 100 are legitimate for a process using several cores. */
export function formatPercent(value: number, digits = 1): string {
  return `${value.toFixed(digits)} %`;
}

/** Whole counts with thousands separators; "unknown" for null. Avoids Intl: WebKitGTK under
 * LANG=C.UTF-8 reports the locale "C", and every Intl constructor then throws. */
export function formatCount(value: number | null): string {
  if (value === null || !Number.isFinite(value)) return "unknown";
  return Math.round(value)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** A per-second rate with precision that suits its size, e.g. "0.25/s", "12/s". */
export function formatRate(perSecond: number): string {
  const digits = perSecond !== 0 && Math.abs(perSecond) < 10 ? 2 : 0;
  return `${perSecond.toFixed(digits)}/s`;
}

/** Local wall-clock time "HH:MM:SS" of a Unix time in milliseconds. */
export function formatTime(ms: number): string {
  const d = new Date(ms);
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

/** Local "YYYY-MM-DD HH:MM:SS" of a Unix time in milliseconds. */
export function formatDateTime(ms: number): string {
  const d = new Date(ms);
  const date = `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}`;
  return `${date} ${formatTime(ms)}`;
}

/** How long before `nowMs` a Unix time in milliseconds was: "just now", "42s ago", "5m ago", "3h ago", "2d ago". */
export function formatAgo(ms: number, nowMs: number): string {
  const seconds = Math.floor((nowMs - ms) / 1000);
  if (!Number.isFinite(seconds)) return "—";
  // A clock running behind the node's reads as "just now" rather than the future.
  if (seconds < 1) return "just now";
  if (seconds < 60) return `${seconds}s ago`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h ago`;
  return `${Math.floor(hours / 24)}d ago`;
}

/** Shortens long identifiers to their head and tail ("12D3Ko…x9QmZa"). */
export function shortId(id: string, head = 6, tail = 6): string {
  return id.length <= head + tail + 1 ? id : `${id.slice(0, head)}…${id.slice(-tail)}`;
}

/** One-line JSON, cut to `maxLength` characters. */
export function compactJson(value: unknown, maxLength = 200): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    text = String(value);
  }
  if (text === undefined) return "";
  return text.length > maxLength ? `${text.slice(0, maxLength - 1)}…` : text;
}
