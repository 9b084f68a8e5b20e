import { type Logger, pino } from "pino";

export type { Logger };

/** One pino logger per process; components take children with their own `component` field. */
export function createLogger(opts: { level?: string; name?: string } = {}): Logger {
  return pino({
    name: opts.name ?? "seckill",
    level: opts.level ?? process.env.LOG_LEVEL ?? "info",
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  });
}
