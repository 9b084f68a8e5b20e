import { count, desc, inArray } from "drizzle-orm";
import type { Hono } from "hono";
import { saleState } from "../../api/routes/sales.$saleId.get.js";
import { orders, sales } from "../../core/db/schema/index.js";
import { AppError } from "../../core/errors.js";
import type { AppEnv } from "../../core/http.js";
import { json } from "../../core/respond.js";
import type { AdminContext } from "../context.js";

/**
 * GET /admin/sales[?limit=100]: the newest sales with their state and where their stock and
 * orders are (Redis: remaining, accepted; MySQL: persisted, paid). One grouped query for the
 * orders of every listed sale, two Redis reads per sale.
 */
export function register(app: Hono<AppEnv>, ctx: AdminContext) {
  app.get("/admin/sales", async (c) => {
    const limit = Number(c.req.query("limit") ?? "100");
    if (!Number.isInteger(limit) || limit < 1 || limit > 500)
      throw new AppError("invalid_request", "limit must be an integer from 1 to 500");
    const { db } = ctx.services.database;
    const rows = await db.select().from(sales).orderBy(desc(sales.createdAt)).limit(limit);
    const ids = rows.map((s) => s.id);
    const counts = ids.length
      ? await db
          .select({ saleId: orders.saleId, status: orders.status, n: count() })
          .from(orders)
          .where(inArray(orders.saleId, ids))
          .groupBy(orders.saleId, orders.status)
      : [];
    const persisted = new Map<string, number>();
    const paid = new Map<string, number>();
    for (const r of counts) {
      persisted.set(r.saleId, (persisted.get(r.saleId) ?? 0) + Number(r.n));
      if (r.status === "paid") paid.set(r.saleId, Number(r.n));
    }
    const redis = await Promise.all(ids.map((id) => Promise.all([ctx.store.remaining(id), ctx.store.accepted(id)])));
    const now = Date.now();
    return json(c, {
      sales: rows.map((s, i) => {
        const [remaining, accepted] = redis[i];
        const left = remaining ?? s.totalStock;
        return {
          id: s.id,
          title: s.title,
          state: saleState({ startsAt: s.startsAt.getTime(), endsAt: s.endsAt.getTime() }, left, now),
          totalStock: s.totalStock,
          loaded: remaining !== null,
          remaining: left,
          accepted,
          persisted: persisted.get(s.id) ?? 0,
          paid: paid.get(s.id) ?? 0,
          startsAt: s.startsAt.toISOString(),
          endsAt: s.endsAt.toISOString(),
        };
      }),
    });
  });
}
