import type { Hono } from "hono";
import { AppError } from "../../core/errors.js";
import type { AppEnv } from "../../core/http.js";
import { json } from "../../core/respond.js";
import { queueAnswer } from "../../domain/admission/answer.js";
import { admissionSale } from "../admission-sale.js";
import { type ApiContext, requireUser } from "../context.js";

/**
 * GET /api/sales/:saleId/queue (queue sales): the user's place, 200 {state, position,
 * estimatedWaitSeconds, pollAfterSeconds}, state waiting | admitted (with pass and
 * passExpiresAt: buy with X-Purchase-Pass before then) | sold_out. The state is read in one
 * Redis script with the stock, so it says sold_out from the moment the last unit is taken.
 * 404 not_in_queue for a user without a place, also one whose pass expired unused.
 */
export function register(app: Hono<AppEnv>, ctx: ApiContext) {
  const { config, metrics } = ctx.services;
  app.get("/api/sales/:saleId/queue", requireUser(config.JWT_SECRET), async (c) => {
    const sale = await admissionSale(ctx, c.req.param("saleId"), "queue");
    const userId = c.get("userId");
    if (Date.now() >= sale.endsAt) throw new AppError("sale_ended", "the sale has ended", { extra: { saleId: sale.id } });
    const { q, clock } = await ctx.admission.room.status(sale, userId);
    metrics.admissionRequests.inc({ call: "queue_status", outcome: q.state });
    switch (q.state) {
      case "not_in_queue":
        throw new AppError("not_in_queue", "you are not in this sale's waiting room: POST to join", { extra: { saleId: sale.id } });
      case "lapsed":
        throw new AppError(
          "not_in_queue",
          "your pass expired before you bought, so your place went to the next in line; POST to join again",
          {
            extra: { saleId: sale.id },
          },
        );
      case "waiting":
      case "sold_out":
      case "admitted":
        return json(c, queueAnswer(q, clock, sale, ctx.admission.passes, userId, ctx.admission.rateTauMs));
      default:
        throw new Error(`queue status answered ${q.state}`);
    }
  });
}
