import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { Redis } from "ioredis";
import { ensurePackages } from "./packages.js";
import { freePort, spawnManaged, stopChild, waitUntil } from "./processes.js";
import type { Provided } from "./stack.js";

export const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";

export async function redisAnswers(url: string): Promise<boolean> {
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 500, retryStrategy: () => null });
  probe.on("error", () => {});
  try {
    await probe.connect();
    return (await probe.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

/**
 * Redis for the platform: REDIS_URL when given; else the server already answering on
 * 127.0.0.1:6379; else a redis-server of our own with AOF on and its data in `dataDir`.
 */
export async function provideRedis(opts: { url?: string; dataDir: string; reuseDefault: boolean; port?: number }): Promise<Provided> {
  if (opts.url) return { url: opts.url, source: "env", stop: async () => {} };
  if (opts.reuseDefault && (await redisAnswers(DEFAULT_REDIS_URL))) {
    return { url: DEFAULT_REDIS_URL, source: "reused", stop: async () => {} };
  }
  ensurePackages(["redis-server"]);
  const dir = join(opts.dataDir, "redis");
  mkdirSync(dir, { recursive: true });
  const port = opts.port ?? (await freePort());
  const child = spawnManaged("redis-server", redisServerArgs(port, dir), { stdio: "ignore" });
  const url = `redis://127.0.0.1:${port}`;
  await waitUntil("redis-server", () => redisAnswers(url), 15_000, child);
  return { url, source: "started", pid: child.pid, stop: () => stopChild(child) };
}

/**
 * The arguments every redis-server the stack starts shares (a single server, each cluster node):
 * loopback only, data in `dir`, AOF with appendfsync everysec and no RDB snapshots. A crash may
 * lose Redis's last second of writes, the one loss the platform accepts: the Redis guard blocks
 * the affected sales until reconcile has recomputed them.
 */
export function redisServerArgs(port: number, dir: string, extra: string[] = []): string[] {
  return [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--dir",
    dir,
    ...extra,
    "--appendonly",
    "yes",
    "--appendfsync",
    "everysec",
    "--save",
    "",
    "--daemonize",
    "no",
    "--logfile",
    join(dir, "redis.log"),
  ];
}
