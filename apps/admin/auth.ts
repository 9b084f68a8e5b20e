import type { MiddlewareHandler } from "hono";
import { AppError } from "../core/errors.js";
import { type AppEnv, requestHeader } from "../core/http.js";
import { bearerToken, safeEqual } from "../core/identity.js";
import type { Authenticate } from "../gateway/auth.js";
import type { ConsoleSessions } from "./console-sessions.js";
import { sameOrigin } from "./session.js";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * `Authorization: Bearer <ADMIN_TOKEN>` (scheme in any case), or a live console session cookie
 * (session.ts, console-sessions.ts: genuine, unexpired, not signed out, of the current
 * generation); 401 without either, 403 for a valid user token (wrong kind of caller, told apart
 * with the same authenticator the gateway uses) and for a cookie-authenticated write from another
 * origin (CSRF), 503 `unavailable` when Redis cannot say whether a genuine cookie was revoked
 * (fail closed; Bearer calls never ask Redis).
 */
export function requireAdmin(deps: {
  adminToken: string;
  authenticateUser: Authenticate;
  sessions: ConsoleSessions;
}): MiddlewareHandler<AppEnv> {
  const { adminToken, authenticateUser, sessions } = deps;
  return async (c, next) => {
    const header = requestHeader(c, "authorization");
    const token = bearerToken(header);
    if (token && safeEqual(token, adminToken)) return next();
    if (token && (await authenticateUser(header)) !== null) {
      throw new AppError("forbidden", "admin routes need the admin token, not a user token");
    }
    if (!token && (await sessions.current(c)) !== null) {
      if (!SAFE_METHODS.has(c.req.method) && !sameOrigin(c)) {
        throw new AppError("forbidden", "a console write must come from the console's own origin (Origin header mismatch)");
      }
      return next();
    }
    throw new AppError(
      "unauthorized",
      "admin routes need Authorization: Bearer <ADMIN_TOKEN> (or a console session: sign in at /admin/console)",
    );
  };
}
