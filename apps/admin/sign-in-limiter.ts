import { RateLimiterRedis, RateLimiterRes } from "rate-limiter-flexible";
import { AppError } from "../core/errors.js";
import type { Redis } from "../core/redis.js";
import { globalKeys } from "../domain/keys.js";

/** Failed console sign-ins one client IP may make per SIGN_IN_WINDOW_S. */
export const SIGN_IN_FAILURES = 10;
/** The window of SIGN_IN_FAILURES, seconds (a fixed window from the first failure). */
export const SIGN_IN_WINDOW_S = 15 * 60;

export type SignInAttempt = { ok: true } | { ok: false; retryAfterS: number };

export interface SignInLimiter {
  /**
   * Takes one attempt for `ip` before its token is compared; `{ok:false}` when the IP already has
   * SIGN_IN_FAILURES failures in the window. Throws 503 `unavailable` when Redis does not answer
   * (fail closed: no sign-in without the limit).
   */
  attempt(ip: string): Promise<SignInAttempt>;
  /** Gives back the attempt of a sign-in whose token was right: only failures count. */
  succeeded(ip: string): Promise<void>;
}

/**
 * Limits failed console sign-ins per client IP (rate-limiter-flexible's RateLimiterRedis, fixed
 * windows in Redis under the deployment's prefix, shared by every admin process), following the
 * library's "login endpoint protection" recipe. Every attempt is counted atomically *before* the
 * token is compared and a right token gets its point back, so parallel guesses cannot all slip
 * past a read-then-count check. A blocked IP is refused even with the right token: otherwise
 * guessing could go on at full speed and a guess that was answered 429 would still tell a right
 * token from a wrong one. Other IPs are unaffected.
 */
export function createSignInLimiter(deps: { redis: Redis; prefix: string; failures?: number; windowS?: number }): SignInLimiter {
  const limiter = new RateLimiterRedis({
    storeClient: deps.redis,
    keyPrefix: globalKeys(deps.prefix).adminSignInLimit,
    points: deps.failures ?? SIGN_IN_FAILURES,
    duration: deps.windowS ?? SIGN_IN_WINDOW_S,
    rejectIfRedisNotReady: true,
  });
  const unavailable = (cause: unknown) =>
    new AppError("unavailable", "sign-in is unavailable: its attempt limit cannot be checked (Redis does not answer); retry shortly", {
      headers: { "Retry-After": "1" },
      cause,
    });

  return {
    async attempt(ip) {
      try {
        await limiter.consume(ip);
        return { ok: true };
      } catch (rej) {
        if (rej instanceof RateLimiterRes) return { ok: false, retryAfterS: Math.max(1, Math.ceil(rej.msBeforeNext / 1000)) };
        throw unavailable(rej);
      }
    },
    async succeeded(ip) {
      try {
        await limiter.reward(ip, 1);
      } catch {
        // Only the refund was lost: the IP keeps one more counted attempt until its window ends.
      }
    },
  };
}
