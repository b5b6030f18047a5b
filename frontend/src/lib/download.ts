/** What saving a file needs from the browser, so tests can substitute it. */
export type SaveEnvironment = {
  document: Pick<Document, "createElement" | "body">;
  createObjectURL: (blob: Blob) => string;
  revokeObjectURL: (url: string) => void;
  /** Runs `task` once the browser has had time to start the download. */
  later: (task: () => void) => void;
};

/**
 * How long the object URL outlives the click. Some browsers read the blob only after the
 * click has returned, so revoking it at once can lose the download.
 */
export const REVOKE_AFTER_MS = 30_000;

function browserEnvironment(): SaveEnvironment {
  return {
    document,
    createObjectURL: (blob) => URL.createObjectURL(blob),
    revokeObjectURL: (url) => URL.revokeObjectURL(url),
    later: (task) => setTimeout(task, REVOKE_AFTER_MS),
  };
}

/**
 * Offers bytes to the user as a file download: a Blob behind an object URL, clicked through a
 * temporary `<a download>` element, and the URL revoked afterwards.
 */
export function saveBytes(
  bytes: Uint8Array<ArrayBuffer>,
  fileName: string,
  type = "application/octet-stream",
  env: SaveEnvironment = browserEnvironment(),
): void {
  const url = env.createObjectURL(new Blob([bytes], { type }));
  const link = env.document.createElement("a");
  link.href = url;
  link.download = fileName;
  link.rel = "noopener";
  link.style.display = "none";
  env.document.body.append(link);
  try {
    link.click();
  } finally {
    link.remove();
    env.later(() => env.revokeObjectURL(url));
  }
}
