import type { MiddlewareHandler } from "hono";
import { AppError } from "../core/errors.js";
import { type AppEnv, requestHeader } from "../core/http.js";
import { bearerToken, safeEqual } from "../core/identity.js";
import type { Authenticate } from "../gateway/auth.js";

/**
 * `Authorization: Bearer <ADMIN_TOKEN>` (scheme in any case); 401 without it, 403 for a valid
 * user token (wrong kind of caller, told apart with the same authenticator the gateway uses).
 */
export function requireAdmin(adminToken: string, authenticateUser: Authenticate): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const header = requestHeader(c, "authorization");
    const token = bearerToken(header);
    if (token && safeEqual(token, adminToken)) return next();
    if (token && (await authenticateUser(header)) !== null) {
      throw new AppError("forbidden", "admin routes need the admin token, not a user token");
    }
    throw new AppError("unauthorized", "admin routes need Authorization: Bearer <ADMIN_TOKEN>");
  };
}
