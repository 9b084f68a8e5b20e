import type { Hono } from "hono";
import { signInBody } from "../../contract/admin.js";
import { BODY_LIMITS, limitBody } from "../../core/body.js";
import { AppError, parseJsonBody } from "../../core/errors.js";
import type { AppEnv } from "../../core/http.js";
import { safeEqual } from "../../core/identity.js";
import { json } from "../../core/respond.js";
import { webAssets } from "../../site/mount.js";
import { WEB_BASE } from "../../site/web-assets.js";
import type { AdminContext } from "../context.js";
import { clearedSessionCookie, issueSession, sameOrigin, sessionCookie, sessionOf } from "../session.js";

/**
 * The console page and its session: GET /admin/console, GET|POST|DELETE /admin/session. These
 * are registered before the admin guard: they are how a browser gets past it.
 */
export function register(app: Hono<AppEnv>, ctx: AdminContext) {
  const adminToken = ctx.services.config.ADMIN_TOKEN;
  const page = webAssets().page("console/index.html", { cacheControl: "no-cache" });
  app.get("/admin/console", page);
  app.get("/admin/console/*", page);
  // The console's scripts, for an admin listener of its own (ADMIN_PORT); the public port serves them too.
  app.get(`${WEB_BASE}*`, webAssets().assets());

  app.get("/admin/session", (c) => {
    const expiresAt = sessionOf(c, adminToken);
    return json(c, { signedIn: expiresAt !== null, expiresAt: expiresAt ? new Date(expiresAt).toISOString() : null }, 200, {
      "cache-control": "no-store",
    });
  });

  app.post("/admin/session", limitBody(BODY_LIMITS.admin), async (c) => {
    if (!sameOrigin(c)) throw new AppError("forbidden", "sign in from the console's own origin");
    const { token } = parseJsonBody(await c.req.text(), signInBody);
    if (!safeEqual(token, adminToken)) {
      ctx.services.logger.warn({ ip: c.req.header("x-forwarded-for") }, "console sign-in refused: wrong admin token");
      throw new AppError("unauthorized", "that is not the admin token (ADMIN_TOKEN)");
    }
    const session = issueSession(adminToken);
    return json(c, { signedIn: true, expiresAt: new Date(session.expiresAt).toISOString() }, 200, {
      "set-cookie": sessionCookie(c, session.value),
      "cache-control": "no-store",
    });
  });

  app.delete("/admin/session", (c) => {
    if (!sameOrigin(c)) throw new AppError("forbidden", "sign out from the console's own origin");
    return json(c, { signedIn: false, expiresAt: null }, 200, { "set-cookie": clearedSessionCookie(c) });
  });
}
