import type { Logger } from "./logger.js";

/**
 * Runs `stop` once on SIGINT/SIGTERM, within a deadline, then exits. A second signal exits at
 * once (the operator insists).
 */
export function onShutdown(logger: Logger, stop: () => Promise<void>, deadlineMs = 15_000): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, "second signal: exiting without waiting for the drain");
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal, deadlineMs }, "shutting down: draining in-flight work");
    const timer = setTimeout(() => {
      logger.error({ deadlineMs }, "shutdown deadline passed; exiting with work possibly undrained (it is redelivered on restart)");
      process.exit(1);
    }, deadlineMs);
    timer.unref();
    stop().then(
      () => {
        logger.info("stopped cleanly");
        process.exit(0);
      },
      (err) => {
        logger.error({ err }, "error while stopping");
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
}
