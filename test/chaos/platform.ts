import type { ChildProcess } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Config, loadConfig } from "../../apps/core/config.js";
import { freePort } from "../../infra/processes.js";
import { envOf, exited, spawnApp } from "../helpers/processes.js";
import type { ChaosStack } from "./stack.js";

/** `order-writer-2`: a second member of the writer group, started only by the scenarios that want one. */
export type AppName = "api" | "gateway" | "order-writer" | "order-writer-2" | "lifecycle" | "loyalty";

/**
 * The platform as separate processes on the chaos stack (gateway -> API over HTTP, the order
 * writer on its own), so a scenario can SIGKILL any of them and start it again.
 */
export interface ChaosPlatform {
  config: Config;
  gatewayUrl: string;
  logDir: string;
  kill(app: AppName): Promise<void>;
  /** Starts the app (again), optionally from another entry file with extra env (a fault-injecting twin). */
  start(app: AppName, override?: { main?: string; env?: Record<string, string> }): Promise<void>;
  stop(): Promise<void>;
}

const MAIN: Record<AppName, string> = {
  api: "apps/api/main.ts",
  gateway: "apps/gateway/main.ts",
  "order-writer": "apps/order-writer/main.ts",
  "order-writer-2": "apps/order-writer/main.ts",
  lifecycle: "apps/lifecycle/main.ts",
  loyalty: "apps/loyalty/main.ts",
};

export async function startChaosPlatform(
  stack: ChaosStack,
  tag: string,
  env: Record<string, string> = {},
  apps: AppName[] = ["order-writer", "api", "gateway"],
): Promise<ChaosPlatform> {
  const ports = {} as Record<AppName, number>;
  for (const app of Object.keys(MAIN) as AppName[]) ports[app] = await freePort();
  const config = loadConfig({
    NODE_ENV: "test",
    LOG_LEVEL: "warn",
    REDIS_URL: stack.redisUrl,
    DATABASE_URL: stack.databaseUrl,
    KAFKA_BROKERS: stack.kafka.url,
    KAFKA_SESSION_TIMEOUT_MS: "3000",
    KAFKA_FETCH_MAX_WAIT_MS: "100",
    MAX_INFLIGHT_PURCHASES: "100000",
    ORDER_WRITER_MAX_ROWS_PER_SEC: "20000",
    ...env,
  });
  const logDir = tmpdir();
  const children = new Map<AppName, ChildProcess>();
  const envFor = (app: AppName) =>
    envOf(config, { PORT: String(ports[app]), API_URL: app === "gateway" ? `http://127.0.0.1:${ports.api}` : "", ...env });

  async function start(app: AppName, override: { main?: string; env?: Record<string, string> } = {}) {
    const child = spawnApp(
      override.main ?? MAIN[app],
      { ...envFor(app), ...override.env },
      join(logDir, `seckill-chaos-${tag}-${app}.log`),
    );
    children.set(app, child);
    const deadline = Date.now() + 60_000;
    for (;;) {
      const ok = await fetch(`http://127.0.0.1:${ports[app]}/healthz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) return;
      if (child.exitCode !== null)
        throw new Error(`${app} exited with ${child.exitCode} at start (log: ${logDir}/seckill-chaos-${tag}-${app}.log)`);
      if (Date.now() > deadline) throw new Error(`${app} did not become healthy in 60 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  for (const app of apps) await start(app);
  return {
    config,
    gatewayUrl: `http://127.0.0.1:${ports.gateway}`,
    logDir,
    start,
    async kill(app) {
      const child = children.get(app);
      if (!child) return;
      child.kill("SIGKILL");
      await exited(child);
    },
    async stop() {
      for (const child of children.values()) {
        child.kill("SIGTERM");
        await Promise.race([exited(child), new Promise((r) => setTimeout(r, 10_000))]);
        child.kill("SIGKILL");
      }
    },
  };
}
