import { eq } from "drizzle-orm";
import type { Hono } from "hono";
import { sales } from "../../core/db/schema/index.js";
import { AppError } from "../../core/errors.js";
import type { AppEnv } from "../../core/http.js";
import { json } from "../../core/respond.js";
import { replaySaleEvents } from "../../domain/outbox.js";
import type { AdminContext } from "../context.js";

/**
 * POST /admin/sales/:id/events/replay: queues every order event of the sale still in the outbox
 * (within ORDER_EVENTS_RETENTION_HOURS) for publishing again, for a consumer that lost its data.
 * 202 `{saleId, events, orders}`: the outbox relays publish them shortly, in order per order and
 * with their original event ids, so consumers that already have them skip them.
 */
export function register(app: Hono<AppEnv>, ctx: AdminContext) {
  app.post("/admin/sales/:id/events/replay", async (c) => {
    const id = c.req.param("id");
    const { db } = ctx.services.database;
    const [sale] = await db.select({ id: sales.id }).from(sales).where(eq(sales.id, id)).limit(1);
    if (!sale) throw new AppError("sale_not_found", `no sale ${id}`);
    const queued = await replaySaleEvents(db, id);
    ctx.services.logger.warn({ saleId: id, ...queued }, "order events of the sale queued for replay on seckill.order-events");
    return json(c, { saleId: id, ...queued }, 202);
  });
}
