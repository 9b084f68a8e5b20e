import { count, eq } from "drizzle-orm";
import type { Hono } from "hono";
import { orders, sales } from "../../core/db/schema/index.js";
import { AppError } from "../../core/errors.js";
import type { AppEnv } from "../../core/http.js";
import { json } from "../../core/respond.js";
import { saleChanged } from "../../domain/sale-changes.js";
import { describeHome, recordedHome, type StockHome } from "../../domain/stock-home.js";
import type { AdminContext } from "../context.js";

/** 409 for an instance that is not the sale's stock home: says where the stock lives and what to do. */
export function stockHomeMismatch(saleId: string, home: StockHome, self: StockHome): AppError {
  return new AppError(
    "stock_home_mismatch",
    `sale ${saleId}'s stock lives in ${describeHome(home)}; this instance is ${describeHome(self)}. Preload it on an instance of its home, or move its home here first (POST /admin/sales/${saleId}/move-stock-home)`,
    { extra: { saleId, stockHome: home, thisInstance: self } },
  );
}

/**
 * POST /admin/sales/:id/preload[?force=true]: load the sale's settings and stock into Redis.
 * Idempotent: a repeated call never resets stock that purchases already took. Refused (409) once
 * the sale has started, unless forced; refused (409 `conflict`) even when forced if Redis lost a
 * sale that may have sold (orders in MySQL, or in Kafka not yet persisted): reconcile rebuilds it.
 */
export function register(app: Hono<AppEnv>, ctx: AdminContext) {
  app.post("/admin/sales/:id/preload", async (c) => {
    const id = c.req.param("id");
    const [sale] = await ctx.services.database.db.select().from(sales).where(eq(sales.id, id)).limit(1);
    if (!sale) throw new AppError("sale_not_found", `no sale ${id}`);
    const force = c.req.query("force") === "true";
    // Record which Redis this is before loading anything into it, so a later restart is noticed.
    await ctx.guard.check();
    // One home per sale's stock: the first preload records this instance's; any other refuses.
    const home = await ctx.stockHomes.claim(id);
    if (!home.here) throw stockHomeMismatch(id, home.home, home.self);
    if (!(await ctx.store.isLoaded(id))) {
      // Preloaded before (its home was recorded): it may have sold units whose orders are still
      // in Kafka. Not only once MySQL's startsAt has passed: a PATCH may have moved the start to
      // the future after it sold, and Redis's clock (the one the reserve script opens the sale by)
      // may run ahead of this one. Kafka is read before MySQL, so an order persisted between the
      // two reads shows in MySQL; lag 0 then means MySQL holds every order the sale ever took.
      const mayHaveSold = recordedHome(sale) !== null;
      const lag = mayHaveSold ? await ctx.reconciler.writerLag() : 0;
      const [sold] = await ctx.services.database.db.select({ n: count() }).from(orders).where(eq(orders.saleId, id));
      const rows = Number(sold.n);
      if (rows > 0 || lag !== 0) {
        // Loading the full stock now would sell again what MySQL or Kafka already holds.
        const held =
          rows > 0
            ? `has ${rows} order(s) in MySQL`
            : lag === null
              ? "was preloaded before, and Kafka cannot say whether its orders are still on their way"
              : `was preloaded before, and the order writer still has ${lag} message(s) to persist`;
        throw new AppError(
          "conflict",
          `Redis has lost sale ${id}, which ${held}: run POST /admin/sales/${id}/reconcile, which waits for the order writer and recomputes the stock`,
          { extra: { saleId: id, orders: rows, writerLag: lag } },
        );
      }
    }
    const out = await ctx.store.preload(id, sale, force);
    if (out.kind === "started") {
      throw new AppError(
        "sale_started",
        "the sale has started; preload refused (add ?force=true to refresh its settings; stock is never reset)",
        {
          extra: { saleId: id, remaining: out.remaining },
        },
      );
    }
    // The settings Redis enforces now are this row's: the caches follow (shared copy, broadcast).
    await saleChanged({ store: ctx.store, logger: ctx.services.logger }, sale);
    ctx.services.logger.info({ saleId: id, remaining: out.remaining, outcome: out.kind, force }, "sale preloaded into Redis");
    return json(c, { id, remaining: out.remaining });
  });
}
