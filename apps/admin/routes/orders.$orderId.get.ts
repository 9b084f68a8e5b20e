import { eq } from "drizzle-orm";
import type { Hono } from "hono";
import { orders, payments } from "../../core/db/schema/index.js";
import { AppError } from "../../core/errors.js";
import type { AppEnv } from "../../core/http.js";
import { json } from "../../core/respond.js";
import type { AdminContext } from "../context.js";

/** GET /admin/orders/:orderId: an order with its payments, for support and the payment simulator. */
export function register(app: Hono<AppEnv>, ctx: AdminContext) {
  app.get("/admin/orders/:orderId", async (c) => {
    const id = c.req.param("orderId");
    const { db } = ctx.services.database;
    const [order] = await db.select().from(orders).where(eq(orders.id, id)).limit(1);
    if (!order) throw new AppError("order_not_found", `no order ${id} in MySQL (a queued order is not there yet)`);
    const paid = await db.select().from(payments).where(eq(payments.orderId, id));
    return json(c, { ...order, payments: paid });
  });
}
