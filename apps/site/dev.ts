import { randomUUID } from "node:crypto";
import { eq } from "drizzle-orm";
import type { Hono } from "hono";
import { devPayBody, devTokenBody } from "../contract/public.js";
import { BODY_LIMITS, readBody } from "../core/body.js";
import type { Config } from "../core/config.js";
import type { Database } from "../core/db/client.js";
import { orders } from "../core/db/schema/index.js";
import { AppError, parseJsonBody } from "../core/errors.js";
import { type AppEnv, requestHeader } from "../core/http.js";
import { signUserToken } from "../core/jwt.js";
import type { Logger } from "../core/logger.js";
import { json } from "../core/respond.js";
import { signPayment } from "../domain/payment-event.js";

const DEV_TOKEN_TTL_S = 3600;

/**
 * Development-only routes for the storefront demo: a token for any user id, and "pay" through
 * the payment simulator (the callback is signed here, server-side, so the browser never holds
 * PAYMENT_WEBHOOK_SECRET). Never mounted when NODE_ENV=production: the caller checks.
 */
export function mountDevRoutes(
  app: Hono<AppEnv>,
  deps: {
    config: Config;
    database: Database;
    logger: Logger;
    authenticate: (header: string | undefined) => Promise<string | null | undefined>;
  },
): void {
  const { config, database } = deps;
  const log = deps.logger.child({ component: "dev-routes" });

  app.post("/api/dev/token", async (c) => {
    const { userId } = parseJsonBody((await readBody(c, BODY_LIMITS.queue)).toString("utf8"), devTokenBody);
    const token = await signUserToken(config.JWT_SECRET, userId, DEV_TOKEN_TTL_S);
    return json(c, { userId, token, expiresAt: new Date(Date.now() + DEV_TOKEN_TTL_S * 1000).toISOString() });
  });

  app.post("/api/dev/pay", async (c) => {
    const userId = await deps.authenticate(requestHeader(c, "authorization"));
    if (!userId) throw new AppError("unauthorized", "a valid Authorization: Bearer <JWT> is required");
    const body = parseJsonBody((await readBody(c, BODY_LIMITS.queue)).toString("utf8"), devPayBody);
    const [order] = await database.db.select().from(orders).where(eq(orders.id, body.orderId)).limit(1);
    // Queued orders are not in MySQL yet; another user's order is 404 like a missing one.
    if (!order || order.userId !== userId)
      throw new AppError("order_not_found", `no stored order ${body.orderId} for this user (a queued order cannot be paid yet)`);
    if (order.status !== "pending_payment") throw new AppError("conflict", `order ${order.id} is ${order.status}: nothing to pay`);
    const eventId = `evt_dev_${randomUUID()}`;
    const raw = JSON.stringify({
      eventId,
      orderId: order.id,
      providerTxnId: `txn_dev_${randomUUID()}`,
      amountCents: order.amountCents,
      status: body.status,
    });
    const ts = Math.floor(Date.now() / 1000);
    const res = await app.request("/api/payments/callback", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-timestamp": String(ts),
        "x-signature": signPayment(config.PAYMENT_WEBHOOK_SECRET, ts, raw),
      },
      body: raw,
    });
    log.info({ orderId: order.id, userId, eventId, callbackStatus: res.status }, "development payment sent through the simulator");
    return json(c, { orderId: order.id, eventId, callbackStatus: res.status });
  });
}
