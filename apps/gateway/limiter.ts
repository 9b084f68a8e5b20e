import { BurstyRateLimiter, RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from "rate-limiter-flexible";
import type { Logger } from "../core/logger.js";
import type { Redis } from "../core/redis.js";

/** How long the burst allowance takes to come back. */
export const BURST_WINDOW_S = 10;

export type LimitDecision = { ok: true } | { ok: false; retryAfterMs: number };

/**
 * `points` per key per fixed window of `durationS` seconds, counted in Redis under `keyPrefix`
 * (shared by every gateway). A key past it is blocked in this process's memory for the rest of
 * the window (no Redis call); while Redis is unreachable, each process counts in its own memory.
 */
function fixedWindowInRedis(redis: Redis, keyPrefix: string, points: number, durationS: number): RateLimiterRedis {
  return new RateLimiterRedis({
    storeClient: redis,
    keyPrefix,
    points,
    duration: durationS,
    inMemoryBlockOnConsumed: points + 1,
    rejectIfRedisNotReady: true,
    insuranceLimiter: new RateLimiterMemory({ points, duration: durationS }),
  });
}

/**
 * The per-user token bucket: `perSec` requests each second, plus a burst of `burst` spread over
 * BURST_WINDOW_S (rate-limiter-flexible's BurstyRateLimiter, fixed windows in Redis, shared by
 * every gateway). A user past the limit is then blocked in memory until the window ends, so a
 * flooding user stops costing Redis round trips. While Redis is unreachable each gateway falls
 * back to the same limits in its own memory.
 */
export function createUserLimiter(deps: { redis: Redis; keyPrefix: string; perSec: number; burst: number; logger: Logger }) {
  const main = fixedWindowInRedis(deps.redis, `${deps.keyPrefix}:rate`, deps.perSec, 1);
  const limiter =
    deps.burst > 0
      ? new BurstyRateLimiter(main, fixedWindowInRedis(deps.redis, `${deps.keyPrefix}:burst`, deps.burst, BURST_WINDOW_S))
      : main;

  // Neither Redis nor the insurance limiter answered: admit; the reserve script still enforces the per-user limit.
  return (userId: string) => decide(limiter, userId, deps.logger, "rate limiter unavailable; admitting the request");
}

/**
 * The waiting room's limit: `perSec` queue calls (joins and polls together) per user per sale
 * each second, in a fixed one-second window in Redis shared by every gateway
 * (rate-limiter-flexible, keys `<keyPrefix>:queue:<saleId>:<userId>`; a sale id has no `:`).
 * A client that polls as `pollAfterSeconds` says (at least 1 s apart) never reaches it. A user
 * past it is blocked in this gateway's memory until the window ends, so the rest of a flood costs
 * no Redis call at all; while Redis is unreachable each gateway counts in its own memory.
 * Returns `consume(saleId, userId)`: ok, or refused with the milliseconds until the window ends.
 */
export function createQueueLimiter(deps: { redis: Redis; keyPrefix: string; perSec: number; logger: Logger }) {
  const limiter = fixedWindowInRedis(deps.redis, `${deps.keyPrefix}:queue`, deps.perSec, 1);
  // Neither Redis nor the insurance limiter answered: admit; the queue scripts need Redis anyway and answer for themselves.
  return (saleId: string, userId: string) =>
    decide(limiter, `${saleId}:${userId}`, deps.logger, "queue rate limiter unavailable; admitting the queue call");
}

async function decide(
  limiter: { consume(key: string): Promise<unknown> },
  key: string,
  logger: Logger,
  unavailable: string,
): Promise<LimitDecision> {
  try {
    await limiter.consume(key);
    return { ok: true };
  } catch (rej) {
    if (rej instanceof RateLimiterRes) return { ok: false, retryAfterMs: rej.msBeforeNext };
    logger.warn({ err: rej }, unavailable);
    return { ok: true };
  }
}
