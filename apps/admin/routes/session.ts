import type { Hono } from "hono";
import { signInBody, signOutQuery } from "../../contract/admin.js";
import { BODY_LIMITS, limitBody } from "../../core/body.js";
import { AppError, errorResponse, parseJsonBody } from "../../core/errors.js";
import { type AppEnv, requestHeader } from "../../core/http.js";
import { bearerToken, safeEqual } from "../../core/identity.js";
import { throttledLog } from "../../core/log-throttle.js";
import { json } from "../../core/respond.js";
import { requestClientIp } from "../../gateway/client-ip.js";
import { webAssets } from "../../site/mount.js";
import { WEB_BASE } from "../../site/web-assets.js";
import type { AdminContext } from "../context.js";
import { clearedSessionCookie, sameOrigin, sessionClaimsOf, sessionCookie } from "../session.js";
import { SIGN_IN_FAILURES, SIGN_IN_WINDOW_S } from "../sign-in-limiter.js";

/**
 * The console page and its session: GET /admin/console, GET|POST|DELETE /admin/session. These
 * are registered before the admin guard: they are how a browser gets past it.
 *
 * - POST signs in: at most SIGN_IN_FAILURES failed attempts per client IP (TRUSTED_PROXY_HOPS
 *   decides which X-Forwarded-For entry is the client) per SIGN_IN_WINDOW_S; past that, 429
 *   `rate_limited` with Retry-After, even for the right token (sign-in-limiter.ts says why).
 * - DELETE signs this browser's session out: it is recorded as revoked in Redis, so the cookie is
 *   refused from then on even if it was copied, and the browser's copy is cleared.
 * - DELETE ?all=true ends every console session (console-sessions.ts: the generation moves on).
 *   It needs Bearer ADMIN_TOKEN or a live session, else 401.
 * - Any of them answers 503 `unavailable` when Redis does not answer (nothing changes).
 */
export function register(app: Hono<AppEnv>, ctx: AdminContext) {
  const { config, logger } = ctx.services;
  const adminToken = config.ADMIN_TOKEN;
  const { sessions, signInLimiter } = ctx;
  const page = webAssets().page("console/index.html", { cacheControl: "no-cache" });
  app.get("/admin/console", page);
  app.get("/admin/console/*", page);
  // The console's scripts, for an admin listener of its own (ADMIN_PORT); the public port serves them too.
  app.get(`${WEB_BASE}*`, webAssets().assets());
  // A guessing client can send thousands of refused sign-ins a second: one warning a second for those.
  const blockedLog = throttledLog(1000);

  app.get("/admin/session", async (c) => {
    const session = await sessions.current(c);
    return json(c, { signedIn: session !== null, expiresAt: session ? new Date(session.expiresAt).toISOString() : null }, 200, {
      "cache-control": "no-store",
    });
  });

  app.post("/admin/session", limitBody(BODY_LIMITS.admin), async (c) => {
    if (!sameOrigin(c)) throw new AppError("forbidden", "sign in from the console's own origin");
    const { token } = parseJsonBody(await c.req.text(), signInBody);
    const ip = requestClientIp(c, config.TRUSTED_PROXY_HOPS) ?? "unknown";
    const attempt = await signInLimiter.attempt(ip);
    if (!attempt.ok) {
      blockedLog((suppressed) =>
        logger.warn(
          { ip, retryAfterS: attempt.retryAfterS, suppressed },
          `console sign-in blocked: ${SIGN_IN_FAILURES} failed sign-ins from this address within ${SIGN_IN_WINDOW_S / 60} min (answered 429); someone may be guessing ADMIN_TOKEN`,
        ),
      );
      return errorResponse(
        c,
        "rate_limited",
        `too many failed sign-ins from this address (${SIGN_IN_FAILURES} per ${SIGN_IN_WINDOW_S / 60} min); try again after Retry-After seconds`,
        { headers: { "Retry-After": String(attempt.retryAfterS) } },
      );
    }
    if (!safeEqual(token, adminToken)) {
      logger.warn({ ip }, "console sign-in refused: wrong admin token (counted against this address's attempt limit)");
      throw new AppError("unauthorized", "that is not the admin token (ADMIN_TOKEN)");
    }
    await signInLimiter.succeeded(ip);
    const session = await sessions.start();
    return json(c, { signedIn: true, expiresAt: new Date(session.expiresAt).toISOString() }, 200, {
      "set-cookie": sessionCookie(c, session.value),
      "cache-control": "no-store",
    });
  });

  app.delete("/admin/session", async (c) => {
    const parsed = signOutQuery.safeParse(c.req.query());
    if (!parsed.success) throw new AppError("invalid_request", "the only query parameter is all=true|false");
    // A Bearer call is no cross-site risk (browsers never add that header on their own).
    const bearer = bearerToken(requestHeader(c, "authorization"));
    const byToken = bearer !== undefined && safeEqual(bearer, adminToken);
    if (!byToken && !sameOrigin(c)) throw new AppError("forbidden", "sign out from the console's own origin");
    if (parsed.data.all === "true") {
      if (!byToken && (await sessions.current(c)) === null) {
        throw new AppError("unauthorized", "ending every session needs Authorization: Bearer <ADMIN_TOKEN> or a console session");
      }
      const generation = await sessions.revokeAll();
      logger.warn({ generation, by: byToken ? "admin token" : "console session" }, "every console session was ended (sign-out everywhere)");
    } else {
      const session = sessionClaimsOf(c, adminToken);
      if (session) await sessions.revoke(session);
    }
    return json(c, { signedIn: false, expiresAt: null }, 200, { "set-cookie": clearedSessionCookie(c), "cache-control": "no-store" });
  });
}
