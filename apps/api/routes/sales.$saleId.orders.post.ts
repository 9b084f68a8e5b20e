import type { Hono } from "hono";
import { BODY_LIMITS, readBody } from "../../core/body.js";
import { ALREADY_PURCHASED_MESSAGE, AppError, parseJsonBody } from "../../core/errors.js";
import { type AppEnv, requestHeader } from "../../core/http.js";
import { newOrderId } from "../../core/ids.js";
import { json } from "../../core/respond.js";
import { tracing } from "../../core/tracing.js";
import { SALE_ID_PATTERN } from "../../domain/order-message.js";
import {
  IDEMPOTENCY_KEY,
  IDEMPOTENCY_KEY_MESSAGE,
  isPlainPurchaseBody,
  type Purchase,
  purchaseBodySchema,
} from "../../domain/purchase-request.js";
import type { ReserveOutcome } from "../../domain/sale-store.js";
import { type ApiContext, requireUser } from "../context.js";

/** How long an accepted order stays readable from Redis while it travels to MySQL. */
const QUEUED_ORDER_TTL_S = 7 * 24 * 3600;

/**
 * POST /api/sales/:saleId/orders: reserve one unit for the user, atomically in Redis, and answer
 * 202 with the order id; the order travels to MySQL through Kafka (see ../handoff.ts). The route
 * checks the request, then calls `createPurchase`'s function, which a co-hosted gateway calls
 * directly (no second HTTP framework pass in one process).
 */
export function register(app: Hono<AppEnv>, ctx: ApiContext, purchase: Purchase = createPurchase(ctx)) {
  app.post("/api/sales/:saleId/orders", requireUser(ctx.services.config.JWT_SECRET), async (c) => {
    const saleId = c.req.param("saleId");
    // No sale has such an id (ids are byte-exact): 404 like any id with no exact record.
    if (!SALE_ID_PATTERN.test(saleId)) throw new AppError("sale_not_found", `no sale ${JSON.stringify(saleId)}`);
    const raw = (await readBody(c, BODY_LIMITS.purchase)).toString("utf8");
    if (!isPlainPurchaseBody(raw)) parseJsonBody(raw, purchaseBodySchema, { emptyIsObject: true });
    const idempotencyKey = requestHeader(c, "idempotency-key") ?? "";
    if (idempotencyKey && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
      throw new AppError("invalid_request", IDEMPOTENCY_KEY_MESSAGE);
    }
    return json(c, await purchase({ saleId, userId: c.get("userId"), idempotencyKey }), 202);
  });
}

/** The purchase itself, behind the route's checks (see PurchaseInput). */
export function createPurchase(ctx: ApiContext): Purchase {
  const { metrics, logger } = ctx.services;
  const log = logger.child({ component: "purchase" });
  const tracer = tracing();
  /** The reserve call in a span of its own when tracing is on (the script's EVALSHA is a child, from the ioredis instrumentation). */
  const reserve = (saleId: string, userId: string, orderId: string, idempotencyKey: string): Promise<ReserveOutcome> =>
    tracer
      ? tracer.inSpan("reserve-6.lua", { attributes: { "seckill.sale_id": saleId, "seckill.order_id": orderId } }, async (span) => {
          const outcome = await ctx.store.reserve(saleId, userId, orderId, idempotencyKey);
          span.setAttribute("seckill.outcome", outcome.kind);
          return outcome;
        })
      : ctx.store.reserve(saleId, userId, orderId, idempotencyKey);

  /** A Redis read before the reserve script: fails closed like the script itself (503, Retry-After). */
  async function redisOrUnavailable<T>(read: () => Promise<T>, saleId: string, userId: string): Promise<T> {
    try {
      return await read();
    } catch (err) {
      log.error({ err, saleId, userId }, "waiting-room check failed: Redis unreachable; purchase refused (fail closed)");
      throw new AppError("unavailable", "the sale is briefly unavailable; retry in a moment", { headers: { "Retry-After": "1" } });
    }
  }

  return async ({ saleId, userId, idempotencyKey }) => {
    if (!ctx.guard.verified) {
      metrics.purchases.inc({ outcome: "redis_unverified" });
      throw new AppError("unavailable", "the sale is briefly unavailable (reconnecting to Redis); retry in a moment", {
        headers: { "Retry-After": "1" },
      });
    }
    const orderId = newOrderId();
    // From memory nearly always; when the sale cannot be read (MySQL away after a restart) the
    // purchase goes on as before: reserve-6.lua needs only Redis.
    const info = ctx.saleCache.peek(saleId) ?? (await ctx.saleCache.get(saleId).catch(() => undefined));
    const admission = info?.admission;
    // A waiting-room pass buys once: the purchase spends the admission (converted below), and a
    // pass is checked at the gateway without I/O, so it still looks valid after its order closed.
    // Without this its holder could take the returned unit that the queue's head was admitted for.
    if (admission === "queue" && !(await redisOrUnavailable(() => ctx.admission.room.holds(saleId, userId), saleId, userId))) {
      const replayed = idempotencyKey
        ? await redisOrUnavailable(() => ctx.store.replayOf(saleId, userId, idempotencyKey), saleId, userId)
        : null;
      if (replayed) return { orderId: replayed, status: "queued" };
      metrics.admissionRequests.inc({ call: "purchase", outcome: "admission_spent" });
      throw new AppError("invalid_pass", "this pass's admission was used by a purchase or has lapsed: join the queue again (POST /queue)", {
        extra: { saleId },
      });
    }

    let outcome: ReserveOutcome;
    const started = performance.now();
    try {
      outcome = await reserve(saleId, userId, orderId, idempotencyKey);
    } catch (err) {
      metrics.purchases.inc({ outcome: "redis_error" });
      log.error({ err, saleId, userId }, "reserve failed: Redis unreachable; purchase refused (fail closed)");
      throw new AppError("unavailable", "the sale is briefly unavailable; retry in a moment", { headers: { "Retry-After": "1" } });
    }
    metrics.reserveSeconds.observe((performance.now() - started) / 1000);
    metrics.purchases.inc({ outcome: outcome.kind });

    switch (outcome.kind) {
      case "reserved": {
        ctx.handoff.enqueue(saleId, orderId, outcome.message, outcome.bucket);
        // A waiting-room buyer's place is freed now, so the next tick can admit someone for the next unit.
        if (admission === "queue") {
          ctx.admission.room
            .converted({ id: saleId, stockBuckets: info?.stockBuckets }, userId)
            .catch((err) =>
              log.warn({ err, saleId, userId }, "could not free a buyer's waiting-room place; it frees when the pass expires"),
            );
        }
        // The handoff record the script wrote is what reaches Kafka; this copy only lets the
        // buyer read the order while it travels to MySQL (a failure here loses nothing).
        const queued = JSON.stringify({ saleId, userId, acceptedAt: outcome.acceptedAt, payBy: outcome.payBy });
        ctx.store
          .rememberQueued(orderId, queued, QUEUED_ORDER_TTL_S)
          .catch((err) => log.warn({ err, orderId }, "could not cache the queued order for status reads"));
        return { orderId, status: "queued" };
      }
      case "replayed":
        return { orderId: outcome.orderId, status: "queued" };
      case "not_loaded": {
        const sale = await ctx.saleCache.get(saleId);
        if (!sale) throw new AppError("sale_not_found", `no sale ${saleId}`);
        if (Date.now() < sale.startsAt) throw new AppError("sale_not_started", "the sale has not started yet", { extra: { saleId } });
        // Started but not in Redis: never preloaded, or Redis lost it. Closed until preload or reconcile.
        throw new AppError("unavailable", "the sale is paused: its stock is not loaded (awaiting preload or reconcile); retry shortly", {
          headers: { "Retry-After": "5" },
          extra: { saleId },
        });
      }
      case "blocked":
        throw new AppError("unavailable", "the sale is paused until its stock is reconciled; retry shortly", {
          headers: { "Retry-After": "5" },
          extra: { saleId },
        });
      case "not_started":
        throw new AppError("sale_not_started", "the sale has not started yet", { extra: { saleId } });
      case "ended":
        throw new AppError("sale_ended", "the sale has ended", { extra: { saleId } });
      case "already_purchased":
        throw new AppError("already_purchased", ALREADY_PURCHASED_MESSAGE, { extra: { saleId } });
      case "sold_out":
        throw new AppError("sold_out", "sold out", { extra: { saleId } });
    }
  };
}
