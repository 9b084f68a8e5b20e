import type { Hono } from "hono";
import type { AppEnv } from "../../core/http.js";
import { json } from "../../core/respond.js";
import { admissionSale, requireOpenSale } from "../admission-sale.js";
import { type ApiContext, requireUser } from "../context.js";

/**
 * GET /api/sales/:saleId/challenge (pass sales): a challenge bound to the user and the sale,
 * from the start only. With the default provider: 200 {challengeId, algorithm: "sha256-pow",
 * prefix, difficultyBits, expiresAt}; find a nonce with SHA-256(prefix + nonce) starting with
 * difficultyBits zero bits and POST it to /pass. Issuing writes nothing (the challenge is signed).
 */
export function register(app: Hono<AppEnv>, ctx: ApiContext) {
  const { config, metrics } = ctx.services;
  app.get("/api/sales/:saleId/challenge", requireUser(config.JWT_SECRET), async (c) => {
    const sale = await admissionSale(ctx, c.req.param("saleId"), "pass");
    await requireOpenSale(ctx, sale);
    const challenge = ctx.admission.challenges.issue(sale, c.get("userId"));
    metrics.admissionRequests.inc({ call: "challenge", outcome: "issued" });
    return json(c, { ...challenge, expiresAt: new Date(challenge.expiresAt).toISOString() });
  });
}
