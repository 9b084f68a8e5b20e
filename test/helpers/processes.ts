import type { ChildProcess } from "node:child_process";
import { createWriteStream } from "node:fs";
import type { Config } from "../../apps/core/config.js";
import { spawnManaged } from "../../infra/processes.js";

/** The environment that makes a child process use exactly this config (same stack, prefixes, topics). */
export function envOf(config: Config, extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  for (const [k, v] of Object.entries(config)) if (v !== undefined) env[k] = String(v);
  return { ...env, ...extra };
}

/**
 * Runs an app's main.ts as a child (dies with the test process); its output goes to logFile.
 * It leads a process group of its own, as npm start's process does under a terminal.
 */
export function spawnApp(main: string, env: Record<string, string>, logFile: string): ChildProcess {
  const child = spawnManaged(process.execPath, ["--import", "tsx", main], { env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  const log = createWriteStream(logFile, { flags: "a" });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  return child;
}

export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}
