import { Redis as IORedis } from "ioredis";
import { createLogger } from "../../apps/core/logger.js";
import { createRedis, type Redis } from "../../apps/core/redis.js";
import { randomId, stackInfo } from "./env.js";

/** A Redis client with the project's scripts, and a key prefix of this test's own (deleted after). */
export function testRedis(): { redis: Redis; prefix: string; cleanup(): Promise<void> } {
  const redis = createRedis(stackInfo().redisUrl, createLogger({ level: "silent" }));
  const prefix = `test:${randomId()}:`;
  return {
    redis,
    prefix,
    async cleanup() {
      // Only keys under this test's prefix.
      let cursor = "0";
      do {
        const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
        cursor = next;
        if (keys.length) await redis.del(...keys);
      } while (cursor !== "0");
      redis.disconnect();
    },
  };
}

/**
 * Records every Redis command that names `prefix`, from any client, until stop(). A plain
 * connection of its own: MONITOR through a duplicate of the platform's client (auto-pipelined,
 * busy) once mixed monitor lines into that client's command queue ("Command queue state error").
 */
export async function watchRedis(prefix: string): Promise<{ stop(): Promise<string[]> }> {
  const monitor = await new IORedis(stackInfo().redisUrl).monitor();
  const seen: string[] = [];
  monitor.on("monitor", (_time: string, args: string[]) => {
    if (args.some((a) => String(a).includes(prefix))) seen.push(args.join(" "));
  });
  await new Promise((r) => setTimeout(r, 200)); // the monitor is live
  return {
    async stop() {
      await new Promise((r) => setTimeout(r, 200)); // commands still in flight are seen
      monitor.disconnect();
      return seen;
    },
  };
}
