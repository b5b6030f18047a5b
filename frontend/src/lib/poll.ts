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

/**
 * Wraps `task` so that calls made while it runs fold into a single further run
 * once it finishes: a burst of triggers costs at most two runs, and the last
 * trigger is always followed by a run that started after it.
 */
export function coalesce(task: () => Promise<unknown>): () => void {
  let running = false;
  let again = false;

  const run = async () => {
    running = true;
    do {
      again = false;
      try {
        await task();
      } catch {
        // As with poll, the task reports its own failures.
      }
    } while (again);
    running = false;
  };

  return () => {
    if (running) again = true;
    else void run();
  };
}

/**
 * Wraps `task` so that a call made while it runs joins that run rather than
 * starting another: at most one is in flight however many callers there are.
 */
export function singleFlight<T>(task: () => Promise<T>): () => Promise<T> {
  let running: Promise<T> | null = null;
  return () => {
    running ??= task().finally(() => {
      running = null;
    });
    return running;
  };
}
