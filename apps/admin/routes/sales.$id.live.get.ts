import type { Hono } from "hono";
import { saleState } from "../../api/routes/sales.$saleId.get.js";
import { AppError } from "../../core/errors.js";
import type { AppEnv } from "../../core/http.js";
import { json } from "../../core/respond.js";
import type { AdminContext } from "../context.js";
import { createPurchaseReader } from "../live.js";
import { findSale, saleStats } from "../sale-stats.js";
import { saleJson } from "./sales.post.js";

/**
 * GET /admin/sales/:id/live: one sample for the console's live dashboard (polled every second):
 * the stats, purchase answers by status and the purchase-path latency histogram (cumulative
 * counters: the console takes differences for rates and the p99), and dead letters of the sale.
 */
export function register(app: Hono<AppEnv>, ctx: AdminContext) {
  const purchases = createPurchaseReader(ctx.services.registry);
  app.get("/admin/sales/:id/live", async (c) => {
    const id = c.req.param("id");
    const sale = await findSale(ctx, id);
    if (!sale) throw new AppError("sale_not_found", `no sale ${id}`);
    const [stats, series] = await Promise.all([saleStats(ctx, sale), purchases(id)]);
    const now = Date.now();
    return json(c, {
      at: new Date(now).toISOString(),
      sale: saleJson(sale),
      state: saleState({ startsAt: sale.startsAt.getTime(), endsAt: sale.endsAt.getTime() }, stats.remaining, now),
      stats,
      ...series,
      dlq: ctx.dlq.count(id),
    });
  });
}
