import type { Hono } from "hono";
import { z } from "zod";
import { ER_DUP_ENTRY, sqlErrno } from "../../core/db/errors.js";
import { type Sale, sales } from "../../core/db/schema/index.js";
import { AppError, parseJsonBody } from "../../core/errors.js";
import type { AppEnv } from "../../core/http.js";
import { newOrderId } from "../../core/ids.js";
import { json } from "../../core/respond.js";
import { newQueueSeed, seedCommitment } from "../../domain/admission/shuffle.js";
import { SALE_ID_PATTERN } from "../../domain/order-message.js";
import type { AdminContext } from "../context.js";
import { saleFields } from "../sale-fields.js";

export const createSaleSchema = z
  .object({
    id: z.string().regex(SALE_ID_PATTERN, "id must be 1-64 of [A-Za-z0-9_-]").optional(),
    ...saleFields,
    paymentTimeoutSeconds: saleFields.paymentTimeoutSeconds.default(900),
    perUserLimit: saleFields.perUserLimit.default(1),
    // Admission (README "Admission"): open, a proof-of-work pass, or a waiting room.
    admission: z.enum(["open", "pass", "queue"]).default("open"),
    powDifficultyBits: saleFields.powDifficultyBits.default(16),
    inletPerSecond: saleFields.inletPerSecond.default(50),
    admissionWindowSeconds: saleFields.admissionWindowSeconds.default(120),
    /**
     * Buckets the stock is split over in Redis (see apps/domain/sale-store.ts). With any
     * admission mode: a waiting room counts the units over every bucket at each admission tick
     * (README "Admission").
     */
    stockBuckets: z.number().int().min(1).max(64).default(1).meta({
      description:
        "Redis buckets the stock is split over (1-64, default 1), on distinct hash slots, so one hot sale spreads over several Redis Cluster masters. Works with every admission mode; a waiting room's sold_out follows the last unit within one admission tick.",
    }),
  })
  .strict()
  .refine((s) => s.endsAt > s.startsAt, { message: "endsAt must be after startsAt", path: ["endsAt"] });

export function saleJson(s: Sale) {
  return {
    id: s.id,
    title: s.title,
    priceCents: s.priceCents,
    totalStock: s.totalStock,
    startsAt: s.startsAt.toISOString(),
    endsAt: s.endsAt.toISOString(),
    paymentTimeoutSeconds: s.paymentTimeoutSeconds,
    perUserLimit: s.perUserLimit,
    stockBuckets: s.stockBuckets,
    createdAt: s.createdAt.toISOString(),
    admission: s.admission,
    powDifficultyBits: s.powDifficultyBits,
    inletPerSecond: s.inletPerSecond,
    admissionWindowSeconds: s.admissionWindowSeconds,
    // The seed stays secret until the start; its SHA-256 is the public commitment.
    ...(s.queueSeed ? { queueSeedCommitment: seedCommitment(s.queueSeed) } : {}),
  };
}

/** POST /admin/sales: create a sale (its stock goes to Redis with the preload call). */
export function register(app: Hono<AppEnv>, ctx: AdminContext) {
  app.post("/admin/sales", async (c) => {
    const b = parseJsonBody(await c.req.text(), createSaleSchema);
    const sale: Sale = {
      id: b.id ?? `sale_${newOrderId().toLowerCase()}`,
      title: b.title,
      priceCents: b.priceCents,
      totalStock: b.stock,
      startsAt: b.startsAt,
      endsAt: b.endsAt,
      paymentTimeoutSeconds: b.paymentTimeoutSeconds,
      perUserLimit: b.perUserLimit,
      stockBuckets: b.stockBuckets,
      createdAt: new Date(),
      stockHomeRedis: null, // recorded by the first preload
      stockHomePrefix: null,
      admission: b.admission,
      powDifficultyBits: b.powDifficultyBits,
      inletPerSecond: b.inletPerSecond,
      admissionWindowSeconds: b.admissionWindowSeconds,
      queueSeed: b.admission === "queue" ? newQueueSeed() : null,
    };
    try {
      await ctx.services.database.db.insert(sales).values(sale);
    } catch (err) {
      if (sqlErrno(err) === ER_DUP_ENTRY) throw new AppError("conflict", `a sale with id ${sale.id} already exists`);
      throw err;
    }
    ctx.services.logger.info(
      { saleId: sale.id, stock: sale.totalStock, startsAt: sale.startsAt },
      "sale created; preload it before it starts",
    );
    return json(c, saleJson(sale), 201);
  });
}
