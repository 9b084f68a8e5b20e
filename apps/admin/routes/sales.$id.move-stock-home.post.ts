import type { Hono } from "hono";
import { z } from "zod";
import { AppError, parseJsonBody } from "../../core/errors.js";
import type { AppEnv } from "../../core/http.js";
import { createRedis, type Redis } from "../../core/redis.js";
import { json } from "../../core/respond.js";
import { createSaleStore } from "../../domain/sale-store.js";
import { describeHome, sameHome } from "../../domain/stock-home.js";
import type { AdminContext } from "../context.js";

export const bodySchema = z
  .object({
    /**
     * The Redis of the old home when it is another deployment than this instance's (by default
     * the old home is looked for in this instance's Redis, under its own prefix).
     */
    fromRedisUrl: z.string().url().optional(),
    /**
     * The admin states that the old home's Redis lost all its data (its identity with it, e.g.
     * restarted without persistence): the move is then allowed although the old identity is no
     * longer found there, provided that Redis holds no keys of the sale under the old prefix.
     */
    oldHomeLost: z.boolean().optional(),
  })
  .strict();

/**
 * POST /admin/sales/:id/move-stock-home: makes this instance's Redis and key prefix the sale's
 * stock home. It first proves the old home holds no stock: it finds the old home (its identity
 * under its prefix, in this instance's Redis or at `fromRedisUrl`) and, in one script, checks
 * that no unit is left there and no accepted order waits for Kafka, and empties the sale's keys
 * there, so the old home can never sell it again. Then the sale's home is re-pointed (only if it
 * is still the old one). The new home loads it with POST /admin/sales/:id/reconcile, which
 * recomputes the stock from MySQL (or with preload, for a sale with no orders).
 *
 * A Redis that lost all its data has lost the old identity too: `{"oldHomeLost": true}` then
 * stands in for finding it (the admin's word), and the check that the sale has no stock there
 * still runs.
 *
 * 200 {id, moved, from, to}; 404 sale_not_found; 409 stock_home_unreachable (the old home cannot
 * be inspected from here), stock_home_not_empty (it still holds stock), conflict (moved meanwhile).
 */
export function register(app: Hono<AppEnv>, ctx: AdminContext) {
  app.post("/admin/sales/:id/move-stock-home", async (c) => {
    const id = c.req.param("id");
    const raw = await c.req.text();
    const body = raw.trim() === "" ? {} : parseJsonBody(raw, bodySchema);
    const from = await ctx.stockHomes.recorded(id);
    if (from === undefined) throw new AppError("sale_not_found", `no sale ${id}`);
    const to = await ctx.stockHomes.here();
    const log = ctx.services.logger.child({ component: "stock-home", saleId: id });
    if (from && sameHome(from, to)) return json(c, { id, moved: false, from, to });

    if (from) {
      const other: Redis | undefined = body.fromRedisUrl ? createRedis(body.fromRedisUrl, ctx.services.logger) : undefined;
      const client = other ?? ctx.services.redis;
      const where = body.fromRedisUrl ? `the Redis at fromRedisUrl` : "this instance's Redis";
      try {
        const identity = await createSaleStore(client, from.prefix).deploymentIdentity.read();
        if (identity !== from.redis && !body.oldHomeLost) {
          throw new AppError(
            "stock_home_unreachable",
            `cannot prove that sale ${id}'s old home (${describeHome(from)}) holds no stock: ${where} has ${identity === null ? "no stock-home identity" : `identity ${identity}`} under that prefix. Name the old home's Redis with {"fromRedisUrl": "redis://..."}; if that Redis lost all its data, say so with {"oldHomeLost": true}`,
            { extra: { saleId: id, stockHome: from, found: identity } },
          );
        }
        const out = await ctx.stockHomes.evacuate(client, id, from);
        if (!out.emptied) {
          throw new AppError(
            "stock_home_not_empty",
            `sale ${id}'s old home (${describeHome(from)}) still holds ${out.remaining} unit(s) and ${out.pendingHandoff} order(s) on their way to Kafka: it is where the sale sells; move it once that is 0 (sold out or ended, handoffs drained)`,
            { extra: { saleId: id, stockHome: from, remaining: out.remaining, pendingHandoff: out.pendingHandoff } },
          );
        }
      } finally {
        other?.disconnect();
      }
    }
    if (!(await ctx.stockHomes.repoint(id, from, to))) {
      throw new AppError("conflict", `sale ${id}'s stock home changed while it was being moved; look again and retry`);
    }
    await ctx.store.saleInfoCache.del(id);
    log.warn(
      { from, to },
      `sale's stock home moved to ${describeHome(to)}: run POST /admin/sales/${id}/reconcile here to load it from MySQL`,
    );
    return json(c, { id, moved: true, from, to });
  });
}
