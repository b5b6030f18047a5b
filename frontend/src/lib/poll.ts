/**
 * Runs `task` now and then `intervalMs` after each run finishes, so slow answers
 * never pile up. The task handles its own errors. Returns a function that stops it.
 */
export function poll(task: () => Promise<unknown>, intervalMs: number): () => void {
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const run = async () => {
    try {
      await task();
    } catch {
      // Tasks report their own failures; polling continues regardless.
    }
    if (!stopped) timer = setTimeout(run, intervalMs);
  };

  void run();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
