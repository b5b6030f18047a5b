export const LOG_LEVELS = ["ERROR", "WARN", "INFO", "DEBUG", "TRACE"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Line counts the log view offers. */
export const LOG_LINE_CHOICES = [100, 200, 1000, 5000] as const;

// Colour codes some terminals-oriented log formatters leave in files.
// eslint-disable-next-line no-control-regex
const ANSI_ESCAPE = /\u001b\[[0-9;]*[A-Za-z]/g;

export function stripAnsi(line: string): string {
  return line.replace(ANSI_ESCAPE, "");
}

/** The first level name that appears in a line, for colouring it. */
export function lineLevel(line: string): LogLevel | null {
  let found: LogLevel | null = null;
  let foundAt = Infinity;
  for (const level of LOG_LEVELS) {
    const at = line.indexOf(level);
    if (at >= 0 && at < foundAt) {
      found = level;
      foundAt = at;
    }
  }
  return found;
}

/**
 * Lines containing the level name (when one is chosen) and the text
 * (case-insensitive, when not blank).
 */
export function filterLogLines(
  lines: readonly string[],
  level: LogLevel | null,
  text: string,
): string[] {
  const needle = text.trim().toLowerCase();
  return lines.filter(
    (line) =>
      (level === null || line.includes(level)) &&
      (needle === "" || line.toLowerCase().includes(needle)),
  );
}
