import type { Hono } from "hono";
import { AppError } from "../../core/errors.js";
import type { AppEnv } from "../../core/http.js";
import { json } from "../../core/respond.js";
import type { AdminContext } from "../context.js";
import { findSale, saleStats } from "../sale-stats.js";

/** GET /admin/sales/:id/stats: where the sale's stock and orders are, across Redis and MySQL. */
export function register(app: Hono<AppEnv>, ctx: AdminContext) {
  app.get("/admin/sales/:id/stats", async (c) => {
    const id = c.req.param("id");
    const sale = await findSale(ctx, id);
    if (!sale) throw new AppError("sale_not_found", `no sale ${id}`);
    return json(c, await saleStats(ctx, sale));
  });
}
