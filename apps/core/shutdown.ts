import type { Logger } from "./logger.js";

/**
 * Runs `stop` once on SIGINT/SIGTERM, within a deadline, then exits. A second signal exits at
 * once (the operator insists).
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
  const onSignal = (signal: NodeJS.Signals) => {
    if (!stopping) return begin(signal);
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
