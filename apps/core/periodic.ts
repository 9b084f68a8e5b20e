/**
 * Runs `task` every `intervalMs`, one run at a time (the next waits for the previous to end), and
 * never lets a failure stop the loop: `onError` reports it and the next run comes as usual.
 * `stop()` cancels the next run and waits for the one in progress.
 */
export function every(intervalMs: number, task: () => Promise<unknown>, onError: (err: Error) => void) {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = task()
        .then(
          () => undefined,
          (err: unknown) => onError(err instanceof Error ? err : new Error(String(err))),
        )
        .finally(() => {
          running = undefined;
          schedule();
        });
    }, intervalMs);
    timer.unref();
  };
  schedule();
  return {
    async stop(): Promise<void> {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
