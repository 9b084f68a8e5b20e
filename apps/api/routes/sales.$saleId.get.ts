import type { Hono } from "hono";
import { AppError } from "../../core/errors.js";
import type { AppEnv } from "../../core/http.js";
import { json } from "../../core/respond.js";
import { seedCommitment } from "../../domain/admission/shuffle.js";
import { SALE_ID_PATTERN } from "../../domain/order-message.js";
import type { SaleInfo } from "../../domain/sale-cache.js";
import type { ApiContext } from "../context.js";

export type SaleState = "upcoming" | "open" | "sold_out" | "ended";

export function saleState(sale: Pick<SaleInfo, "startsAt" | "endsAt">, remaining: number, now: number): SaleState {
  if (now >= sale.endsAt) return "ended";
  if (now < sale.startsAt) return "upcoming";
  return remaining <= 0 ? "sold_out" : "open";
}

/**
 * GET /api/sales/:saleId: the sale with its live remaining stock and state. Cacheable for a
 * second (a CDN in front absorbs a crowd's refreshes); `serverTime` lets a page count down on
 * the server's clock.
 */
export function register(app: Hono<AppEnv>, ctx: ApiContext) {
  app.get("/api/sales/:saleId", async (c) => {
    const saleId = c.req.param("saleId");
    if (!SALE_ID_PATTERN.test(saleId)) throw new AppError("sale_not_found", `no sale ${JSON.stringify(saleId)}`);
    const sale = await ctx.saleCache.get(saleId);
    if (!sale) throw new AppError("sale_not_found", `no sale ${saleId}`);
    // Before the preload, the whole stock is still to be sold.
    const remaining = (await ctx.store.remaining(saleId)) ?? sale.totalStock;
    const now = Date.now();
    const body = {
      id: sale.id,
      title: sale.title,
      priceCents: sale.priceCents,
      totalStock: sale.totalStock,
      remaining,
      startsAt: new Date(sale.startsAt).toISOString(),
      endsAt: new Date(sale.endsAt).toISOString(),
      state: saleState(sale, remaining, now),
      ...admissionFields(sale, now),
      serverTime: new Date(now).toISOString(),
    };
    return json(c, body, 200, { "cache-control": "public, max-age=1" });
  });
}

/**
 * How buyers get in (pass and queue sales; an open sale adds nothing). A queue sale shows the SHA-256 of its shuffle seed from creation and the
 * seed itself from the start, so anyone can check the pre-start order (see admission/shuffle.ts).
 */
function admissionFields(sale: SaleInfo, now: number) {
  if (sale.admission === "pass") return { admission: sale.admission, powDifficultyBits: sale.powDifficultyBits };
  if (sale.admission === "queue" && sale.queueSeed) {
    return {
      admission: sale.admission,
      inletPerSecond: sale.inletPerSecond,
      admissionWindowSeconds: sale.admissionWindowSeconds,
      queueSeedCommitment: seedCommitment(sale.queueSeed),
      ...(now >= sale.startsAt ? { queueSeed: sale.queueSeed } : {}),
    };
  }
  // An open sale answers exactly as before admission existed.
  return {};
}
