import type { Logger } from "./logger.js";
import { stopTracing } from "./tracing.js";

/**
 * A repeat of the first signal within this long is the same press delivered twice, not the
 * operator insisting: a terminal's Ctrl-C reaches every process of its group, and `tsx` (npm
 * start) relays the signal to its child again when it misses the child's own report of it.
 */
export const REPEAT_SIGNAL_WINDOW_MS = 1000;

/**
 * Runs `stop` once on SIGINT/SIGTERM, within a deadline, then exits. A second signal exits at
 * once (the operator insists), unless it repeats the first within REPEAT_SIGNAL_WINDOW_MS.
 */
export function onShutdown(logger: Logger, stop: () => Promise<void>, deadlineMs = 15_000): void {
  let stopping = false;
  const begin = (reason: string) => {
    stopping = true;
    logger.info({ reason, deadlineMs }, "shutting down: draining in-flight work");
    const timer = setTimeout(() => {
      logger.error({ deadlineMs }, "shutdown deadline passed; exiting with work possibly undrained (it is redelivered on restart)");
      process.exit(1);
    }, deadlineMs);
    timer.unref();
    // Tracing stops last, so the spans of the drain are exported too.
    stop().then(
      async () => {
        await stopTracing();
        logger.info("stopped cleanly");
        process.exit(0);
      },
      (err) => {
        logger.error({ err }, "error while stopping");
        process.exit(1);
      },
    );
  };
  let first: { signal: NodeJS.Signals; at: number } | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (!stopping) {
      first = { signal, at: Date.now() };
      return begin(signal);
    }
    if (first?.signal === signal && Date.now() - first.at < REPEAT_SIGNAL_WINDOW_MS) {
      logger.info({ signal }, "same signal again at once (delivered twice): still draining; send it again to exit without waiting");
      return;
    }
    logger.warn({ signal }, "second signal: exiting without waiting for the drain");
    process.exit(1);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  // An HTTP worker is stopped by its primary with a message, not a signal: after Ctrl-C the
  // terminal has already sent SIGINT to every process of the group, and a signal from the
  // primary on top would read as the operator insisting and cut the worker's drain short.
  process.on("message", (m: unknown) => {
    if ((m as { seckill?: string } | null)?.seckill === "stop" && !stopping) begin("primary asked");
  });
}
