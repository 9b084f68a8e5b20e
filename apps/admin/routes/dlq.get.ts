import type { Hono } from "hono";
import { AppError } from "../../core/errors.js";
import type { AppEnv } from "../../core/http.js";
import { json } from "../../core/respond.js";
import type { AdminContext } from "../context.js";

/** GET /admin/dlq[?saleId=]: dead letters with their reason, newest first; POST /admin/dlq/:id/redrive republishes one. */
export function register(app: Hono<AppEnv>, ctx: AdminContext) {
  app.get("/admin/dlq", async (c) => {
    try {
      return json(c, await ctx.dlq.list(c.req.query("saleId") || undefined));
    } catch (err) {
      throw new AppError("unavailable", "cannot read seckill.orders.dlq: Kafka does not answer; retry shortly", {
        cause: err,
        headers: { "Retry-After": "5" },
      });
    }
  });

  app.post("/admin/dlq/:id/redrive", async (c) => {
    const id = c.req.param("id");
    let letter: Awaited<ReturnType<typeof ctx.dlq.redrive>>;
    try {
      letter = await ctx.dlq.redrive(id);
    } catch (err) {
      throw new AppError("unavailable", "could not republish to seckill.orders: Kafka does not answer; retry shortly", {
        cause: err,
        headers: { "Retry-After": "5" },
      });
    }
    if (!letter) throw new AppError("not_found", `no dead letter ${id} (ids are <partition>:<offset>, see GET /admin/dlq)`);
    return json(c, letter);
  });
}
