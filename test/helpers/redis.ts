import { connect } from "node:net";
import { createLogger } from "../../apps/core/logger.js";
import { createRedis, deleteByPrefix, type Redis } from "../../apps/core/redis.js";
import { randomId, stackInfo } from "./env.js";

/** A Redis client with the project's scripts, and a key prefix of this test's own (deleted after). */
export function testRedis(): { redis: Redis; prefix: string; cleanup(): Promise<void> } {
  const redis = createRedis(stackInfo().redisTarget, createLogger({ level: "silent" }));
  const prefix = `test:${randomId()}:`;
  return {
    redis,
    prefix,
    async cleanup() {
      await deleteByPrefix(redis, prefix); // only keys under this test's prefix
      redis.disconnect();
    },
  };
}

/**
 * Records every Redis command that names `prefix`, from any client, until stop(). A raw socket
 * of its own rather than ioredis' monitor(): ioredis switches a connection to monitoring mode a
 * microtask after MONITOR's +OK, so on a busy server the lines read with that +OK land in its
 * command queue ("Command queue state error"), as CI saw while other test files ran.
 *
 * stop() sends a probe command and waits until the monitor has seen it: Redis feeds MONITOR in
 * execution order, so every command answered before stop() was called has been seen too, and a
 * monitor that saw nothing at all cannot pass for one that watched.
 */
export async function watchRedis(prefix: string): Promise<{ stop(): Promise<string[]> }> {
  if (stackInfo().redisCluster) throw new Error("watchRedis watches one server (MONITOR); this test needs REDIS_URL, not a cluster");
  const url = new URL(stackInfo().redisTarget);
  const port = Number(url.port || 6379);
  const probe = `${prefix}watch-probe-${randomId()}`;
  const seen: string[] = [];
  let broken: Error | undefined;
  let onLive: () => void = () => {};
  let onProbe: () => void = () => {};
  const monitor = connect(port, url.hostname);
  monitor.setEncoding("utf8");
  let buffered = "";
  monitor.on("data", (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split("\r\n");
    buffered = lines.pop() ?? "";
    for (const line of lines) {
      if (line === "+OK") onLive();
      else if (line.includes(probe)) onProbe();
      else if (line.startsWith("-")) monitor.destroy(new Error(`MONITOR refused: ${line}`));
      else if (line.includes(prefix)) seen.push(line.slice(1));
    }
  });
  const failed = new Promise<never>((_, reject) =>
    monitor.once("error", (err) => {
      broken = err;
      reject(err);
    }),
  );
  failed.catch(() => {}); // reported by stop()
  monitor.write("MONITOR\r\n");
  await Promise.race([new Promise<void>((r) => (onLive = r)), failed]);
  return {
    async stop() {
      const probed = new Promise<void>((r) => (onProbe = r));
      const sender = connect(port, url.hostname);
      sender.write(`EXISTS ${probe}\r\n`);
      try {
        await Promise.race([
          probed,
          failed,
          new Promise((_, reject) => setTimeout(() => reject(new Error("the monitor never saw its probe")), 10_000)),
        ]);
      } finally {
        sender.destroy();
        monitor.destroy();
      }
      if (broken) throw broken;
      return seen;
    },
  };
}
