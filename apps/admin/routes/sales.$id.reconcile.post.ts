import type { Hono } from "hono";
import { AppError } from "../../core/errors.js";
import type { AppEnv } from "../../core/http.js";
import { json } from "../../core/respond.js";
import type { AdminContext } from "../context.js";

/**
 * POST /admin/sales/:id/reconcile: compare Redis, Kafka and MySQL for the sale, repair what is
 * safe, recompute Redis when it lost the sale (once nothing is in flight), and report.
 */
export function register(app: Hono<AppEnv>, ctx: AdminContext) {
  app.post("/admin/sales/:id/reconcile", async (c) => {
    const id = c.req.param("id");
    const report = await ctx.reconciler.reconcile(id);
    if (!report) throw new AppError("sale_not_found", `no sale ${id}`);
    return json(c, report);
  });
}
