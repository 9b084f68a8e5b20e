import { BurstyRateLimiter, RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from "rate-limiter-flexible";
import type { Logger } from "../core/logger.js";
import type { Redis } from "../core/redis.js";

/** How long the burst allowance takes to come back. */
export const BURST_WINDOW_S = 10;

export type LimitDecision = { ok: true } | { ok: false; retryAfterMs: number };

/**
 * The per-user token bucket: `perSec` requests each second, plus a burst of `burst` spread over
 * BURST_WINDOW_S (rate-limiter-flexible's BurstyRateLimiter, fixed windows in Redis, shared by
 * every gateway). A user past the limit is then blocked in memory until the window ends, so a
 * flooding user stops costing Redis round trips. While Redis is unreachable each gateway falls
 * back to the same limits in its own memory.
 */
export function createUserLimiter(deps: { redis: Redis; keyPrefix: string; perSec: number; burst: number; logger: Logger }) {
  const memory = (points: number, duration: number) => new RateLimiterMemory({ points, duration });
  const main = new RateLimiterRedis({
    storeClient: deps.redis,
    keyPrefix: `${deps.keyPrefix}:rate`,
    points: deps.perSec,
    duration: 1,
    inMemoryBlockOnConsumed: deps.perSec + 1,
    rejectIfRedisNotReady: true,
    insuranceLimiter: memory(deps.perSec, 1),
  });
  const limiter =
    deps.burst > 0
      ? new BurstyRateLimiter(
          main,
          new RateLimiterRedis({
            storeClient: deps.redis,
            keyPrefix: `${deps.keyPrefix}:burst`,
            points: deps.burst,
            duration: BURST_WINDOW_S,
            inMemoryBlockOnConsumed: deps.burst + 1,
            rejectIfRedisNotReady: true,
            insuranceLimiter: memory(deps.burst, BURST_WINDOW_S),
          }),
        )
      : main;

  return async function consume(userId: string): Promise<LimitDecision> {
    try {
      await limiter.consume(userId);
      return { ok: true };
    } catch (rej) {
      if (rej instanceof RateLimiterRes) return { ok: false, retryAfterMs: rej.msBeforeNext };
      // Neither Redis nor the insurance limiter answered: admit; the reserve script still enforces the per-user limit.
      deps.logger.warn({ err: (rej as Error).message }, "rate limiter unavailable; admitting the request");
      return { ok: true };
    }
  };
}
