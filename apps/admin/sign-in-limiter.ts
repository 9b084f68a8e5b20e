import { isIP } from "node:net";
import { RateLimiterRedis, RateLimiterRes } from "rate-limiter-flexible";
import { AppError } from "../core/errors.js";
import type { Redis } from "../core/redis.js";
import { globalKeys } from "../domain/keys.js";

/** Failed console sign-ins one client IP may make per SIGN_IN_WINDOW_S. */
export const SIGN_IN_FAILURES = 10;
/** The window of SIGN_IN_FAILURES, seconds (a fixed window from the first failure). */
export const SIGN_IN_WINDOW_S = 15 * 60;

/**
 * The client a failed sign-in counts against, from its address: an IPv4 address as it is; an IPv6
 * address by its /64, since one client (a home line, a cloud VM) is routinely given a whole /64
 * and could otherwise take a fresh address for every 10 guesses. A port a proxy wrote with the
 * address (`1.2.3.4:5678`, `[2001:db8::1]:443`) and an IPv6 zone are dropped, and an
 * IPv4-mapped IPv6 address counts as its IPv4 address. Anything else is kept as written.
 */
export function signInClientKey(ip: string): string {
  let a = ip.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(a);
  if (bracketed) a = bracketed[1];
  else if (/^[\d.]+:\d+$/.test(a)) a = a.slice(0, a.lastIndexOf(":"));
  a = a.split("%")[0].toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (mapped) a = mapped[1];
  if (isIP(a) !== 6) return a;
  // Expand to 8 groups (an IPv4 tail is two of them), then keep the first 4.
  let v6 = a;
  const v4Tail = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(v6);
  if (v4Tail) {
    const [b1, b2, b3, b4] = v4Tail.slice(1).map(Number);
    v6 = `${v6.slice(0, v4Tail.index)}${((b1 << 8) | b2).toString(16)}:${((b3 << 8) | b4).toString(16)}`;
  }
  const [head, tail] = v6.split("::");
  const left = head ? head.split(":") : [];
  const right = tail === undefined ? [] : tail ? tail.split(":") : [];
  const groups = tail === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill("0"), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => Number.parseInt(g, 16).toString(16))
    .join(":")}::/64`;
}

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
 * Limits failed console sign-ins per client IP (an IPv6 client by its /64: signInClientKey; rate-limiter-flexible's RateLimiterRedis, fixed
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
        await limiter.consume(signInClientKey(ip));
        return { ok: true };
      } catch (rej) {
        if (rej instanceof RateLimiterRes) return { ok: false, retryAfterS: Math.max(1, Math.ceil(rej.msBeforeNext / 1000)) };
        throw unavailable(rej);
      }
    },
    async succeeded(ip) {
      try {
        await limiter.reward(signInClientKey(ip), 1);
      } catch {
        // Only the refund was lost: the IP keeps one more counted attempt until its window ends.
      }
    },
  };
}
