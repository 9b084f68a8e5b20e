import ipaddr from "ipaddr.js";
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
 * IPv4-mapped IPv6 address (however written) counts as its IPv4 address. Anything else is kept
 * as written. Parsing is ipaddr.js's.
 */
export function signInClientKey(ip: string): string {
  let a = ip.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(a);
  if (bracketed) a = bracketed[1];
  else if (/^[\d.]+:\d+$/.test(a)) a = a.slice(0, a.lastIndexOf(":"));
  a = a.split("%")[0];
  if (!ipaddr.isValid(a)) return a;
  const addr = ipaddr.process(a); // an IPv4-mapped IPv6 address becomes its IPv4 address
  if (addr.kind() === "ipv4") return addr.toString();
  const parts = (addr as ipaddr.IPv6).parts.slice(0, 4);
  return `${parts.map((g) => g.toString(16)).join(":")}::/64`;
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
