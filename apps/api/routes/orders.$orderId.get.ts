import { eq } from "drizzle-orm";
import type { Hono } from "hono";
import { orders } from "../../core/db/schema/index.js";
import { AppError } from "../../core/errors.js";
import type { AppEnv } from "../../core/http.js";
import { ORDER_ID_PATTERN } from "../../core/ids.js";
import { json } from "../../core/respond.js";
import { type ApiContext, requireUser } from "../context.js";

/**
 * GET /api/orders/:orderId: the caller's order, from MySQL once persisted, from Redis while it
 * is still queued. Another user's order is 404, exactly like a missing one.
 */
export function register(app: Hono<AppEnv>, ctx: ApiContext) {
  const { database, config } = ctx.services;
  app.get("/api/orders/:orderId", requireUser(config.JWT_SECRET), async (c) => {
    const orderId = c.req.param("orderId");
    const userId = c.get("userId");
    const notFound = () => new AppError("order_not_found", `no order ${orderId} for this user`);
    if (!ORDER_ID_PATTERN.test(orderId)) throw notFound();

    const [row] = await database.db.select().from(orders).where(eq(orders.id, orderId)).limit(1);
    if (row) {
      if (row.userId !== userId) throw notFound();
      return json(c, {
        orderId: row.id,
        saleId: row.saleId,
        status: row.status,
        createdAt: row.createdAt.toISOString(),
        payBy: row.payBy.toISOString(),
      });
    }
    const q = await ctx.store.queuedOrder(orderId);
    if (!q) throw notFound();
    if (q.userId !== userId) throw notFound();
    return json(c, {
      orderId,
      saleId: q.saleId,
      status: "queued",
      createdAt: new Date(q.acceptedAt).toISOString(),
      payBy: new Date(q.payBy).toISOString(),
    });
  });
}
