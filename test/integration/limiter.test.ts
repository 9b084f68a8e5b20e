import { describe, expect, it } from "vitest";
import { createLogger } from "../../apps/core/logger.js";
import { createRedis } from "../../apps/core/redis.js";
import { createUserLimiter } from "../../apps/gateway/limiter.js";
import { freePort } from "../../infra/processes.js";

describe("per-user limiter without Redis", () => {
  it("falls back to the same limits in memory while Redis is unreachable", async () => {
    const logger = createLogger({ level: "silent" });
    const redis = createRedis(`redis://127.0.0.1:${await freePort()}`, logger, { maxRetriesPerRequest: 0 });
    try {
      const consume = createUserLimiter({ redis, keyPrefix: "t", perSec: 5, burst: 10, logger });
      const results = [];
      for (let i = 0; i < 20; i++) results.push(await consume("flooder"));
      expect(results.filter((r) => r.ok)).toHaveLength(15);
      const denied = results.find((r) => !r.ok);
      expect(denied && !denied.ok && denied.retryAfterMs).toBeGreaterThan(0);
      // Another user has a bucket of their own.
      expect((await consume("someone-else")).ok).toBe(true);
    } finally {
      redis.disconnect();
    }
  });
});
