import type { Hono } from "hono";
import { AppError } from "../../core/errors.js";
import type { AppEnv } from "../../core/http.js";
import { json } from "../../core/respond.js";
import { SALE_ID_PATTERN } from "../../domain/order-message.js";
import type { SaleInfo } from "../../domain/sale-cache.js";
import type { ApiContext } from "../context.js";

export type SaleState = "upcoming" | "open" | "sold_out" | "ended";

export function saleState(sale: SaleInfo, remaining: number, now: number): SaleState {
  if (now >= sale.endsAt) return "ended";
  if (now < sale.startsAt) return "upcoming";
  return remaining <= 0 ? "sold_out" : "open";
}

/** GET /api/sales/:saleId: the sale with its live remaining stock and state. */
export function register(app: Hono<AppEnv>, ctx: ApiContext) {
  app.get("/api/sales/:saleId", async (c) => {
    const saleId = c.req.param("saleId");
    if (!SALE_ID_PATTERN.test(saleId)) throw new AppError("sale_not_found", `no sale ${JSON.stringify(saleId)}`);
    const sale = await ctx.saleCache.get(saleId);
    if (!sale) throw new AppError("sale_not_found", `no sale ${saleId}`);
    // Before the preload, the whole stock is still to be sold.
    const remaining = (await ctx.reservations.remaining(saleId)) ?? sale.totalStock;
    return json(c, {
      id: sale.id,
      title: sale.title,
      priceCents: sale.priceCents,
      totalStock: sale.totalStock,
      remaining,
      startsAt: new Date(sale.startsAt).toISOString(),
      endsAt: new Date(sale.endsAt).toISOString(),
      state: saleState(sale, remaining, Date.now()),
    });
  });
}
