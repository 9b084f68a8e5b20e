import type { Hono } from "hono";
import { AppError } from "../../core/errors.js";
import type { AppEnv } from "../../core/http.js";
import { json } from "../../core/respond.js";
import { queueAnswer } from "../../domain/admission/answer.js";
import { admissionSale } from "../admission-sale.js";
import { type ApiContext, requireUser } from "../context.js";

/**
 * POST /api/sales/:saleId/queue (queue sales): join the waiting room, 202 {state, position,
 * estimatedWaitSeconds, pollAfterSeconds}; joining again returns the same place. Before the
 * start, joiners are placed in the order of the committed seed (see domain/admission/shuffle.ts);
 * after it, first come first served. 403 sale_ended; 410 sold_out for a newcomer once the stock
 * is 0 (a waiter who already holds a place is told sold_out in the 202 and keeps it).
 */
export function register(app: Hono<AppEnv>, ctx: ApiContext) {
  const { config, metrics } = ctx.services;
  app.post("/api/sales/:saleId/queue", requireUser(config.JWT_SECRET), async (c) => {
    const sale = await admissionSale(ctx, c.req.param("saleId"), "queue");
    const userId = c.get("userId");
    const { q, clock } = await ctx.admission.room.join(sale, userId);
    metrics.admissionRequests.inc({ call: "queue_join", outcome: q.state });
    switch (q.state) {
      case "ended":
        throw new AppError("sale_ended", "the sale has ended", { extra: { saleId: sale.id } });
      case "sold_out_new":
        throw new AppError("sold_out", "sold out: the waiting room admits nobody more", { extra: { saleId: sale.id } });
      case "waiting":
      case "sold_out":
      case "admitted":
        return json(c, queueAnswer(q, clock, sale, ctx.admission.passes, userId, ctx.admission.rateTauMs), 202);
      default:
        throw new Error(`queue join answered ${q.state}`);
    }
  });
}
