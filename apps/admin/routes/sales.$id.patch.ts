import { eq } from "drizzle-orm";
import type { Hono } from "hono";
import { patchSaleSchema } from "../../contract/admin.js";
import { sales } from "../../core/db/schema/index.js";
import { AppError, parseJsonBody } from "../../core/errors.js";
import type { AppEnv } from "../../core/http.js";
import { json } from "../../core/respond.js";
import { saleChanged } from "../../domain/sale-changes.js";
import type { AdminContext } from "../context.js";
import { findSale } from "../sale-stats.js";
import { saleJson } from "./sales.post.js";

/**
 * PATCH /admin/sales/:id: change any field of a sale but its id and admission mode. A waiting
 * room's inlet goes to Redis first (every API's next admission tick uses it); then MySQL, then,
 * when the sale is loaded, its settings in Redis (the preload script refreshes settings and never
 * touches the stock), then the caches: the shared one in Redis is overwritten with the new sale
 * (a reload in flight only fills an empty entry, so it cannot put the old one back), then the
 * sale-changed broadcast tells every gateway and API to drop its in-memory copy (best effort: a
 * missed message leaves a copy at most 6 s old; a failed publish is logged, the change stands).
 * Stock cannot change once loaded: the units in Redis, and the orders they became, are the truth
 * from then on. End a sale early with `endsAt` = now.
 */
export function register(app: Hono<AppEnv>, ctx: AdminContext) {
  app.patch("/admin/sales/:id", async (c) => {
    const id = c.req.param("id");
    const patch = parseJsonBody(await c.req.text(), patchSaleSchema);
    const sale = await findSale(ctx, id);
    if (!sale) throw new AppError("sale_not_found", `no sale ${id}`);
    const loaded = (await ctx.store.remaining(id)) !== null;
    if (patch.stock !== undefined && patch.stock !== sale.totalStock && loaded) {
      throw new AppError("conflict", "the stock is loaded in Redis and cannot change now (it only changes before the preload)", {
        extra: { saleId: id },
      });
    }
    // Only a waiting room has an inlet in Redis; for other sales the value is only recorded.
    if (patch.inletPerSecond !== undefined && sale.admission === "queue") await ctx.room.setInlet(id, patch.inletPerSecond);
    const next = {
      ...sale,
      ...(patch.title !== undefined && { title: patch.title }),
      ...(patch.priceCents !== undefined && { priceCents: patch.priceCents }),
      ...(patch.stock !== undefined && { totalStock: patch.stock }),
      ...(patch.startsAt !== undefined && { startsAt: patch.startsAt }),
      ...(patch.endsAt !== undefined && { endsAt: patch.endsAt }),
      ...(patch.paymentTimeoutSeconds !== undefined && { paymentTimeoutSeconds: patch.paymentTimeoutSeconds }),
      ...(patch.perUserLimit !== undefined && { perUserLimit: patch.perUserLimit }),
      ...(patch.powDifficultyBits !== undefined && { powDifficultyBits: patch.powDifficultyBits }),
      ...(patch.inletPerSecond !== undefined && { inletPerSecond: patch.inletPerSecond }),
      ...(patch.admissionWindowSeconds !== undefined && { admissionWindowSeconds: patch.admissionWindowSeconds }),
    };
    if (next.endsAt <= next.startsAt) throw new AppError("invalid_request", "endsAt: must be after startsAt");
    const { id: _id, createdAt: _created, ...columns } = next;
    await ctx.services.database.db.update(sales).set(columns).where(eq(sales.id, id));
    // A split sale that lost a bucket with its shard waits for reconcile, which recomputes it from
    // MySQL with these settings; preloading now would load the lost bucket with its initial share
    // and sell again the units its buyers already hold.
    const whole = loaded && (await ctx.store.isLoaded(id));
    if (whole) await ctx.store.preload(id, next, true);
    else if (loaded) {
      ctx.services.logger.warn(
        { saleId: id },
        "sale changed while Redis has lost part of it: the change reaches Redis when reconcile recomputes the sale (POST /admin/sales/:id/reconcile)",
      );
    }
    // Last, once everything it points to is saved: the shared cache rewritten, then the broadcast.
    await saleChanged({ store: ctx.store, logger: ctx.services.logger }, next);
    ctx.services.logger.info({ saleId: id, changed: Object.keys(patch), loaded }, "sale changed by an admin");
    return json(c, saleJson(next));
  });
}
