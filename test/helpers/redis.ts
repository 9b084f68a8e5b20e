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
