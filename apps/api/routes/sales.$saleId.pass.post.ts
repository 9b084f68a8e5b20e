import type { Hono } from "hono";
import { z } from "zod";
import { AppError, parseJsonBody } from "../../core/errors.js";
import type { AppEnv } from "../../core/http.js";
import { json } from "../../core/respond.js";
import { admissionSale, requireOpenSale } from "../admission-sale.js";
import { type ApiContext, requireUser } from "../context.js";

export const bodySchema = z
  .object({
    challengeId: z.string().min(1).max(1024),
    // A string is hashed as given; a number as its decimal digits (what prefix + nonce makes in JavaScript).
    nonce: z.union([z.string().min(1).max(128), z.number().int().min(0).transform(String)]),
  })
  .strict();

const REFUSALS = {
  bad_solution: ["bad_solution", "SHA-256(prefix + nonce) does not start with difficultyBits zero bits"],
  invalid: ["invalid_challenge", "this challenge was not issued to you for this sale"],
  expired: ["invalid_challenge", "the challenge expired: get a new one"],
  used: ["invalid_challenge", "this challenge was already solved: each buys one pass"],
} as const;

/**
 * POST /api/sales/:saleId/pass {challengeId, nonce} (pass sales): a correct, first solution of
 * the user's challenge buys a purchase pass, 200 {pass, expiresAt}, valid for the sale's
 * admissionWindowSeconds. Send it as X-Purchase-Pass with the purchase.
 */
export function register(app: Hono<AppEnv>, ctx: ApiContext) {
  const { config, metrics } = ctx.services;
  app.post("/api/sales/:saleId/pass", requireUser(config.JWT_SECRET), async (c) => {
    const sale = await admissionSale(ctx, c.req.param("saleId"), "pass");
    const answer = parseJsonBody(await c.req.text(), bodySchema);
    await requireOpenSale(ctx, sale);
    const userId = c.get("userId");
    const checked = await ctx.admission.challenges.check(sale, userId, answer);
    if (!checked.ok) {
      metrics.admissionRequests.inc({ call: "pass", outcome: checked.reason });
      const [code, message] = REFUSALS[checked.reason];
      throw new AppError(code, message, { extra: { saleId: sale.id } });
    }
    const expiresAt = Math.min(sale.endsAt, Date.now() + sale.admissionWindowSeconds * 1000);
    metrics.admissionRequests.inc({ call: "pass", outcome: "issued" });
    metrics.passesIssued.inc({ via: "challenge" });
    return json(c, { pass: ctx.admission.passes.issue(sale.id, userId, expiresAt), expiresAt: new Date(expiresAt).toISOString() });
  });
}
