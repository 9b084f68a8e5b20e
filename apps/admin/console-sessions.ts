import type { Context } from "hono";
import { AppError } from "../core/errors.js";
import type { Logger } from "../core/logger.js";
import type { Redis } from "../core/redis.js";
import { globalKeys } from "../domain/keys.js";
import { issueSession, type SessionClaims, sessionClaimsOf } from "./session.js";

/**
 * Server-side state of the console's sessions, so a session can end before its cookie expires.
 * The only module that touches these keys (under the deployment's REDIS_KEY_PREFIX):
 *
 * - `{admin-sessions}:revoked:<nonce>`: a signed-out session, kept (PX) exactly as long as its
 *   cookie would still be accepted, so the set never outgrows the sessions of the last 8 hours.
 * - `{admin-sessions}:generation`: an integer, absent = 0. Every cookie carries the generation
 *   it was issued under, covered by its MAC (session.ts); a cookie is live only while that equals
 *   the current value. Signing out everywhere (`DELETE /admin/session?all=true`) is one INCR: every
 *   session issued before it ends at once, whatever the clocks of the admin processes say, and
 *   the next sign-in gets the new generation. ADMIN_TOKEN and Bearer calls are untouched.
 *
 * Every cookie-authenticated request reads both keys in one MGET (one hash tag, so it works on
 * Redis Cluster too). When Redis does not answer, the request fails closed: 503 `unavailable`,
 * never a session that might have been revoked. Redis losing its data forgets revocations (and
 * resets the generation to 0, reviving sessions of generation 0): after such a loss, rotate
 * ADMIN_TOKEN if a stolen cookie is a worry.
 */
export interface ConsoleSessions {
  /** A new session cookie value of the current generation. Throws 503 `unavailable` without Redis. */
  start(now?: number): Promise<{ value: string; expiresAt: number }>;
  /**
   * The request's session when its cookie is genuine, unexpired, not signed out and of the
   * current generation; null otherwise (without asking Redis when there is no genuine cookie).
   * Throws 503 `unavailable` when a genuine cookie cannot be checked.
   */
  current(c: Context): Promise<SessionClaims | null>;
  /** Signs one session out for good (until its expiry, after which the cookie is refused anyway). */
  revoke(session: SessionClaims, now?: number): Promise<void>;
  /** Ends every session issued so far; returns the new generation. */
  revokeAll(): Promise<number>;
}

export function createConsoleSessions(deps: { redis: Redis; prefix: string; adminToken: string; logger: Logger }): ConsoleSessions {
  const base = globalKeys(deps.prefix).adminSessions;
  const generationKey = `${base}:generation`;
  const revokedKey = (nonce: string) => `${base}:revoked:${nonce}`;

  async function ask<T>(what: string, f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (err) {
      deps.logger.warn({ err }, `console session: could not ${what}: Redis does not answer; answered 503`);
      throw new AppError(
        "unavailable",
        `console sessions are unavailable (could not ${what}: Redis does not answer); retry shortly, or call with Authorization: Bearer <ADMIN_TOKEN>`,
        { headers: { "Retry-After": "1" }, cause: err },
      );
    }
  }
  const generationOf = (v: string | null) => (v === null ? 0 : Number(v));

  return {
    async start(now = Date.now()) {
      const generation = generationOf(await ask("read the session generation", () => deps.redis.get(generationKey)));
      return issueSession(deps.adminToken, generation, now);
    },
    async current(c) {
      const claims = sessionClaimsOf(c, deps.adminToken);
      if (!claims) return null;
      const [generation, revoked] = await ask("check the session", () => deps.redis.mget(generationKey, revokedKey(claims.nonce)));
      return revoked === null && generationOf(generation) === claims.generation ? claims : null;
    },
    async revoke(session, now = Date.now()) {
      const ttlMs = session.expiresAt - now;
      if (ttlMs <= 0) return; // expired: refused anyway
      await ask("record the sign-out", () => deps.redis.set(revokedKey(session.nonce), "1", "PX", ttlMs));
    },
    async revokeAll() {
      return ask("end every session", () => deps.redis.incr(generationKey));
    },
  };
}
