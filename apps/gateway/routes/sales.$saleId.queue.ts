import type { Context, Hono } from "hono";
import { BODY_LIMITS, readBody } from "../../core/body.js";
import { errorResponse } from "../../core/errors.js";
import { type AppEnv, requestHeader } from "../../core/http.js";
import { SALE_ID_PATTERN } from "../../domain/order-message.js";
import type { Authenticate } from "../auth.js";
import type { Forward } from "../forward.js";
import type { LimitDecision } from "../limiter.js";

export interface QueueDeps {
  authenticate: Authenticate;
  /** The per-user, per-sale limit of queue calls (limiter.ts createQueueLimiter). */
  limit: (saleId: string, userId: string) => Promise<LimitDecision>;
  forward: Forward;
  /** Counts a refused call (seckill_admission_requests_total{call, outcome="rate_limited"}). */
  countRefusal: (call: "queue_join" | "queue_status") => void;
}

/**
 * POST (join) and GET (poll) /api/sales/:saleId/queue at the edge: one module for both, since
 * they share one limit. A user's calls for one sale, joins and polls together, are held to
 * QUEUE_RATE_LIMIT_PER_SEC a second; past it the answer is 429 rate_limited with Retry-After
 * (seconds, at least 1), decided before the API is asked, so a refusal costs the limiter's own
 * check and nothing else (no sale lookup, no queue script: the user's place is untouched).
 * Everything else goes to the API as before: a call without a valid token (the API answers 401
 * without I/O) and a sale id no sale can have (404 there, also without I/O) are not counted.
 */
export function register(app: Hono<AppEnv>, deps: QueueDeps): void {
  const handle = async (c: Context<AppEnv>) => {
    const body = c.req.method === "POST" ? await readBody(c, BODY_LIMITS.queue) : undefined;
    const userId = await deps.authenticate(requestHeader(c, "authorization"));
    const saleId = c.req.param("saleId") ?? "";
    if (userId && SALE_ID_PATTERN.test(saleId)) {
      const decision = await deps.limit(saleId, userId);
      if (!decision.ok) {
        deps.countRefusal(c.req.method === "POST" ? "queue_join" : "queue_status");
        const seconds = Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
        return errorResponse(
          c,
          "rate_limited",
          `too many waiting-room calls for sale ${saleId}; nothing changed (a place you hold is kept): retry after ${seconds} s, then poll no more often than pollAfterSeconds says`,
          { extra: { saleId }, headers: { "Retry-After": String(seconds) } },
        );
      }
    }
    return deps.forward(c.req.raw, userId, c.get("requestId"), (name) => requestHeader(c, name), body);
  };
  app.post("/api/sales/:saleId/queue", handle);
  app.get("/api/sales/:saleId/queue", handle);
}
