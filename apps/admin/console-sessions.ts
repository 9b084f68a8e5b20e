import { randomBytes } from "node:crypto";
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
 * - `{admin-sessions}:generation`: a random token (16 base64url characters), minted by the first
 *   sign-in that finds none (SET NX). Every cookie carries the generation it was issued under,
 *   covered by its MAC (session.ts); a cookie is live only while that equals the current value.
 *   Signing out everywhere (`DELETE /admin/session?all=true`) sets a new random value: every
 *   session issued before it ends at once, whatever the clocks of the admin processes say, and
 *   the next sign-in gets the new generation. ADMIN_TOKEN and Bearer calls are untouched.
 *
 * Every cookie-authenticated request reads both keys in one MGET (one hash tag, so it works on
 * Redis Cluster too). When Redis does not answer, the request fails closed: 503 `unavailable`,
 * never a session that might have been revoked. Redis losing its data loses the generation too,
 * so it ends every session (the next sign-in mints a new one): a lost revocation never revives a
 * signed-out cookie.
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
  revokeAll(): Promise<string>;
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
  const mint = () => randomBytes(12).toString("base64url");

  return {
    async start(now = Date.now()) {
      const generation = await ask("read the session generation", async () => {
        // The first sign-in (or the first after Redis lost its data) mints it; of two at once, one wins.
        await deps.redis.set(generationKey, mint(), "NX");
        return deps.redis.get(generationKey);
      });
      if (generation === null)
        throw new AppError("unavailable", "the console session generation vanished while signing in; retry", {
          headers: { "Retry-After": "1" },
        });
      return issueSession(deps.adminToken, generation, now);
    },
    async current(c) {
      const claims = sessionClaimsOf(c, deps.adminToken);
      if (!claims) return null;
      const [generation, revoked] = await ask("check the session", () => deps.redis.mget(generationKey, revokedKey(claims.nonce)));
      return revoked === null && generation === claims.generation ? claims : null;
    },
    async revoke(session, now = Date.now()) {
      const ttlMs = session.expiresAt - now;
      if (ttlMs <= 0) return; // expired: refused anyway
      await ask("record the sign-out", () => deps.redis.set(revokedKey(session.nonce), "1", "PX", ttlMs));
    },
    async revokeAll() {
      const generation = mint();
      await ask("end every session", () => deps.redis.set(generationKey, generation));
      return generation;
    },
  };
}
