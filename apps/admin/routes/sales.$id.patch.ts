import { eq } from "drizzle-orm";
import type { Hono } from "hono";
import { z } from "zod";
import { sales } from "../../core/db/schema/index.js";
import { AppError, parseJsonBody } from "../../core/errors.js";
import type { AppEnv } from "../../core/http.js";
import { json } from "../../core/respond.js";
import { globalKeys } from "../../domain/keys.js";
import type { AdminContext } from "../context.js";
import { saleJson } from "./sales.post.js";

const patchSchema = z.object({ inletPerSecond: z.number().int().min(1).max(100_000) }).strict();

/**
 * PATCH /admin/sales/:id {inletPerSecond}: change a waiting room's admissions per second while it
 * runs. Redis takes it first (every API's next admission tick uses it), then MySQL (what a
 * restart or a rebuilt Redis starts from). Only this field for now.
 */
export function register(app: Hono<AppEnv>, ctx: AdminContext) {
  app.patch("/admin/sales/:id", async (c) => {
    const id = c.req.param("id");
    const b = parseJsonBody(await c.req.text(), patchSchema);
    const { db } = ctx.services.database;
    const [sale] = await db.select().from(sales).where(eq(sales.id, id)).limit(1);
    if (!sale) throw new AppError("sale_not_found", `no sale ${id}`);
    await ctx.room.setInlet(id, b.inletPerSecond);
    await db.update(sales).set({ inletPerSecond: b.inletPerSecond }).where(eq(sales.id, id));
    await ctx.services.redis.del(globalKeys(ctx.services.config.REDIS_KEY_PREFIX).saleInfo(id));
    ctx.services.logger.info({ saleId: id, from: sale.inletPerSecond, to: b.inletPerSecond }, "waiting-room inlet changed");
    return json(c, saleJson({ ...sale, inletPerSecond: b.inletPerSecond }));
  });
}
