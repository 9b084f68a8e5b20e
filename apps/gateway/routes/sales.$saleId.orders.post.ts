import type { Context, Hono } from "hono";
import { BODY_LIMITS, readBody } from "../../core/body.js";
import { ALREADY_PURCHASED_MESSAGE, AppError, errorResponse, parseJsonBody } from "../../core/errors.js";
import type { Foreground } from "../../core/foreground.js";
import { type AppEnv, requestHeader } from "../../core/http.js";
import type { PlatformMetrics } from "../../core/metrics.js";
import { json } from "../../core/respond.js";
import type { Passes } from "../../domain/admission/pass.js";
import { SALE_ID_PATTERN } from "../../domain/order-message.js";
import {
  IDEMPOTENCY_KEY,
  IDEMPOTENCY_KEY_MESSAGE,
  isPlainPurchaseBody,
  OVERLOADED_MESSAGE,
  type Purchase,
  purchaseBodySchema,
} from "../../domain/purchase-request.js";
import type { SaleCache } from "../../domain/sale-cache.js";
import type { Authenticate } from "../auth.js";
import { requestClientIp } from "../client-ip.js";
import type { Forward } from "../forward.js";
import type { RecentHolders } from "../holders.js";
import type { LimitDecision } from "../limiter.js";
import type { SoldOutFlags } from "../sold-out.js";

export interface PurchaseDeps {
  authenticate: Authenticate;
  /** Limits requests that fail authentication, per client address. */
  limitUnauthenticated: (ip: string) => Promise<LimitDecision>;
  trustedProxyHops: number;
  limit: (userId: string) => Promise<LimitDecision>;
  soldOut: SoldOutFlags;
  holders: RecentHolders;
  saleCache: SaleCache;
  /** Checks X-Purchase-Pass for pass and queue sales (HMAC, no I/O). */
  passes: Passes;
  forward: Forward;
  metrics: PlatformMetrics;
  maxInFlight: number;
  /** Purchases in flight, which background work in this process yields to (core/foreground.ts). */
  foreground?: Foreground;
  /** The co-hosted API's purchase, called directly; unset: through `forward`. */
  purchase?: Purchase;
}

/**
 * Counts a refusal in seckill_gateway_rejections_total by reason, with one counter child per
 * reason looked up once: at the peak every request is a rejection.
 */
export function rejectionCounter(metrics: PlatformMetrics): (reason: string) => void {
  const rejections = new Map<string, { inc(): void }>();
  return (reason) => {
    let counter = rejections.get(reason);
    if (!counter) {
      counter = metrics.gatewayRejections.labels({ reason });
      rejections.set(reason, counter);
    }
    counter.inc();
  };
}

/**
 * POST /api/sales/:saleId/orders at the edge. The request itself first: its body is read (at
 * most 4 KiB, else 413) and checked, and a malformed one is a 400 whatever the sale's state;
 * only then does it take an in-flight slot, so a slow body (cut off by the listener's request
 * timeout) never holds one. Then the cheap refusals, and the checks that cost a Redis round
 * trip last: shedding, the sold-out flag, auth, a recent 409 for this buyer and the sale
 * window (memory), then the token bucket (Redis, or memory once a user is blocked), then the
 * API. (A sale this process does not hold in memory is looked up only after the token bucket,
 * so made-up sale ids cannot buy a user MySQL queries past their rate.) A pass or queue sale
 * also needs a valid X-Purchase-Pass, checked in memory before the token bucket: a bot without
 * one never costs a Redis call. Every refusal here is returned, not thrown, and says when to
 * come back.
 *
 * The sold-out flag is checked before the token on purpose: after a sell-out nearly every
 * request is a 410, the state is public anyway (GET /api/sales/:id says sold_out), and
 * verifying a JWT costs more than everything else on that path.
 *
 * Returns `overloaded()`: whether the route sheds purchases now (MAX_INFLIGHT_PURCHASES in
 * flight), for the sold-out fast path, which must answer the same 503 then.
 */
export function register(app: Hono<AppEnv>, deps: PurchaseDeps): { overloaded: () => boolean } {
  let inFlight = 0;
  const count = rejectionCounter(deps.metrics);
  /** What the API's answer tells the edge: a 410 sets the sold-out flag, a 409 the buyer's recent purchase. */
  const learn = (status: number, saleId: string, userId: string) => {
    if (status === 410) deps.soldOut.markSoldOut(saleId);
    else if (status === 409) deps.holders.remember(saleId, userId);
  };
  const reject = (
    c: Context<AppEnv>,
    reason: string,
    ...args: Parameters<typeof errorResponse> extends [unknown, ...infer R] ? R : never
  ) => {
    count(reason);
    return errorResponse(c, ...args);
  };

  const rateLimited = (c: Context<AppEnv>, retryAfterMs: number) => {
    const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
    return reject(c, "rate_limited", "rate_limited", "too many requests; slow down", { headers: { "Retry-After": String(seconds) } });
  };

  app.post("/api/sales/:saleId/orders", async (c) => {
    let body: Buffer;
    try {
      body = await readBody(c, BODY_LIMITS.purchase);
      const raw = body.toString("utf8");
      if (!isPlainPurchaseBody(raw)) parseJsonBody(raw, purchaseBodySchema, { emptyIsObject: true });
    } catch (err) {
      if (err instanceof AppError) count(err.code);
      throw err;
    }
    const idempotencyKey = requestHeader(c, "idempotency-key");
    if (idempotencyKey && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
      return reject(c, "invalid_request", "invalid_request", IDEMPOTENCY_KEY_MESSAGE);
    }
    if (inFlight >= deps.maxInFlight) {
      return reject(c, "overloaded", "overloaded", OVERLOADED_MESSAGE, { headers: { "Retry-After": "1" } });
    }
    inFlight++;
    // Set once the purchase passed the cheap refusals: only those make background work wait.
    let foreground: Foreground | undefined;
    try {
      const saleId = c.req.param("saleId");
      // Not for a request carrying an Idempotency-Key either: a buyer whose 202 was lost (a gateway
      // killed mid-answer) replays it after the sell-out and must get their order, not a 410.
      if (!idempotencyKey && deps.soldOut.isSoldOut(saleId)) return reject(c, "sold_out", "sold_out", "sold out", { extra: { saleId } });
      const userId = await deps.authenticate(requestHeader(c, "authorization"));
      if (!userId) {
        const ip = requestClientIp(c, deps.trustedProxyHops) ?? "unknown";
        const d = await deps.limitUnauthenticated(ip);
        if (!d.ok)
          return reject(c, "rate_limited", "rate_limited", "too many requests without a valid token", { headers: { "Retry-After": "1" } });
        return reject(c, "unauthorized", "unauthorized", "a valid Authorization: Bearer <JWT> is required");
      }
      // No sale has such an id (ids are byte-exact, 1-64 of [A-Za-z0-9_-]): 404 like any id with no exact record.
      if (!SALE_ID_PATTERN.test(saleId)) return reject(c, "sale_not_found", "sale_not_found", `no sale ${JSON.stringify(saleId)}`);
      // Not for a request carrying an Idempotency-Key: its replay must reach the API, which answers it with the original 202.
      const replayable = idempotencyKey !== undefined;
      if (!replayable && deps.holders.holds(saleId, userId))
        return reject(c, "already_purchased", "already_purchased", ALREADY_PURCHASED_MESSAGE, { extra: { saleId } });

      // A sale not in this process's memory costs a Redis read and, for an id no sale has, a MySQL
      // query: a user naming a fresh made-up id each time could make MySQL work at will. So such a
      // request spends the user's token first (once: the check further down is then skipped).
      let sale = deps.saleCache.peek(saleId);
      let limited = false;
      if (sale === undefined) {
        const decision = await deps.limit(userId);
        if (!decision.ok) return rateLimited(c, decision.retryAfterMs);
        limited = true;
        sale = await deps.saleCache.get(saleId);
      }
      if (!sale) return reject(c, "sale_not_found", "sale_not_found", `no sale ${saleId}`);
      const now = Date.now();
      if (now < sale.startsAt) {
        const wait = Math.ceil((sale.startsAt - now) / 1000);
        return reject(c, "not_started", "sale_not_started", "the sale has not started yet", {
          extra: { saleId, startsAt: new Date(sale.startsAt).toISOString() },
          headers: { "Retry-After": String(wait) },
        });
      }
      if (now >= sale.endsAt) return reject(c, "ended", "sale_ended", "the sale has ended", { extra: { saleId } });
      if (sale.admission !== "open") {
        const pass = requestHeader(c, "x-purchase-pass");
        const verdict = pass ? deps.passes.check(pass, saleId, userId) : "missing";
        if (verdict !== "ok") {
          const how =
            sale.admission === "pass" ? "solve the sale's challenge (GET /challenge, POST /pass)" : "wait for admission (POST/GET /queue)";
          if (verdict === "missing")
            return reject(c, "pass_required", "pass_required", `this sale needs X-Purchase-Pass: ${how}`, { extra: { saleId } });
          const why = verdict === "expired" ? "your purchase pass expired" : "this purchase pass is not valid for you and this sale";
          return reject(c, "invalid_pass", "invalid_pass", `${why}: ${how}`, { extra: { saleId } });
        }
      }

      foreground = deps.foreground;
      foreground?.enter();
      if (!limited) {
        const decision = await deps.limit(userId);
        if (!decision.ok) return rateLimited(c, decision.retryAfterMs);
      }

      if (deps.purchase) {
        try {
          return json(c, await deps.purchase({ saleId, userId, idempotencyKey: idempotencyKey ?? "" }), 202);
        } catch (err) {
          if (err instanceof AppError) learn(err.status, saleId, userId);
          throw err; // answered by the app's error handler, as the API's would have
        }
      }
      const res = await deps.forward(c.req.raw, userId, c.get("requestId"), (name) => requestHeader(c, name), body);
      learn(res.status, saleId, userId);
      return res;
    } finally {
      inFlight--;
      foreground?.leave();
    }
  });
  return { overloaded: () => inFlight >= deps.maxInFlight };
}
