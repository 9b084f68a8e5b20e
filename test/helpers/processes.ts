import type { ChildProcess } from "node:child_process";
import type { Config } from "../../apps/core/config.js";
import { spawnEntry } from "../../infra/processes.js";

/** The environment that makes a child process use exactly this config (same stack, prefixes, topics). */
export function envOf(config: Config, extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  for (const [k, v] of Object.entries(config)) if (v !== undefined) env[k] = String(v);
  return { ...env, ...extra };
}

/**
 * Runs an app's main.ts as a child (dies with the test process); its output is appended to
 * logFile (a restarted app continues the same log).
 * It leads a process group of its own (spawnManaged), as npm start's process does under a terminal.
 */
export function spawnApp(main: string, env: Record<string, string>, logFile: string): ChildProcess {
  return spawnEntry(main, { env, logFile, append: true });
}

export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}
