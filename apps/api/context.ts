import type { MiddlewareHandler } from "hono";
import { AppError } from "../core/errors.js";
import { type AppEnv, requestHeader } from "../core/http.js";
import { INTERNAL_HEADER, internalToken, safeEqual, USER_HEADER, USER_UTF8_HEADER, userFromHeaders } from "../core/identity.js";
import type { Services } from "../core/services.js";
import type { Admission } from "../domain/admission/index.js";
import type { RedisGuard } from "../domain/redis-guard.js";
import type { SaleCache } from "../domain/sale-cache.js";
import type { SaleStore } from "../domain/sale-store.js";
import type { Handoff } from "./handoff.js";

/** What the API's route modules share. */
export interface ApiContext {
  services: Services;
  store: SaleStore;
  saleCache: SaleCache;
  handoff: Handoff;
  guard: RedisGuard;
  admission: Admission;
}

/** The user id the gateway vouched for; 401 when the request did not come through the gateway. */
export function requireUser(jwtSecret: string): MiddlewareHandler<AppEnv> {
  const token = internalToken(jwtSecret);
  return async (c, next) => {
    const user = userFromHeaders(requestHeader(c, USER_HEADER), requestHeader(c, USER_UTF8_HEADER));
    const vouch = requestHeader(c, INTERNAL_HEADER);
    if (!user || !vouch || !safeEqual(vouch, token)) {
      throw new AppError("unauthorized", "a user token is required (call through the gateway with Authorization: Bearer <JWT>)");
    }
    c.set("userId", user);
    await next();
  };
}
