import { AppError } from "../core/errors.js";
import { SALE_ID_PATTERN } from "../domain/order-message.js";
import type { AdmissionMode, SaleInfo } from "../domain/sale-cache.js";
import type { ApiContext } from "./context.js";

/**
 * The sale behind an admission call (challenge, pass, queue): 404 sale_not_found for no such
 * sale, 404 not_found when the sale does not admit that way (an open sale has no waiting room).
 */
export async function admissionSale(ctx: ApiContext, saleId: string, mode: Exclude<AdmissionMode, "open">): Promise<SaleInfo> {
  if (!SALE_ID_PATTERN.test(saleId)) throw new AppError("sale_not_found", `no sale ${JSON.stringify(saleId)}`);
  const sale = await ctx.saleCache.get(saleId);
  if (!sale) throw new AppError("sale_not_found", `no sale ${saleId}`);
  if (sale.admission !== mode) {
    const what = mode === "pass" ? "purchase-pass challenges" : "waiting room";
    throw new AppError("not_found", `sale ${saleId} has no ${what} (its admission is ${sale.admission})`, { extra: { saleId } });
  }
  return sale;
}

/** 403 before the start and after the end, 410 once sold out: a pass is worth nothing then. */
export async function requireOpenSale(ctx: ApiContext, sale: SaleInfo): Promise<void> {
  const now = Date.now();
  if (now < sale.startsAt) {
    throw new AppError("sale_not_started", "the sale has not started yet: challenges are handed out from the start", {
      extra: { saleId: sale.id, startsAt: new Date(sale.startsAt).toISOString() },
      headers: { "Retry-After": String(Math.ceil((sale.startsAt - now) / 1000)) },
    });
  }
  if (now >= sale.endsAt) throw new AppError("sale_ended", "the sale has ended", { extra: { saleId: sale.id } });
  if ((await ctx.store.remaining(sale.id)) === 0) throw new AppError("sold_out", "sold out", { extra: { saleId: sale.id } });
}
