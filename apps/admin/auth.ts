import type { MiddlewareHandler } from "hono";
import { verify } from "hono/jwt";
import { AppError } from "../core/errors.js";
import { type AppEnv, requestHeader } from "../core/http.js";
import { safeEqual } from "../core/identity.js";

/** `Authorization: Bearer <ADMIN_TOKEN>`; 401 without it, 403 for a valid user token (wrong kind of caller). */
export function requireAdmin(adminToken: string, jwtSecret: string): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const header = requestHeader(c, "authorization");
    const token = header?.startsWith("Bearer ") ? header.slice(7) : undefined;
    if (token && safeEqual(token, adminToken)) return next();
    if (token) {
      const isUser = await verify(token, jwtSecret, "HS256").then(
        () => true,
        () => false,
      );
      if (isUser) throw new AppError("forbidden", "admin routes need the admin token, not a user token");
    }
    throw new AppError("unauthorized", "admin routes need Authorization: Bearer <ADMIN_TOKEN>");
  };
}
