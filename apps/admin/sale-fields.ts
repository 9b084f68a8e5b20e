import { z } from "zod";

/** An ISO-8601 time with an offset, as the contract writes times; parsed to a Date. */
export const isoDate = z.iso.datetime({ offset: true }).transform((s) => new Date(s));

/**
 * The validators of a sale's settings, one place for both `POST /admin/sales` (which adds the
 * defaults, the id, the admission mode and the buckets) and `PATCH /admin/sales/:id` (any of them,
 * none required). Units: cents, seconds, units of stock, admissions per second.
 */
export const saleFields = {
  title: z.string().trim().min(1).max(200),
  priceCents: z.number().int().min(0).max(4_000_000_000),
  stock: z.number().int().min(1).max(10_000_000),
  startsAt: isoDate,
  endsAt: isoDate,
  paymentTimeoutSeconds: z
    .number()
    .int()
    .min(10)
    .max(7 * 24 * 3600),
  perUserLimit: z.number().int().min(1).max(10),
  powDifficultyBits: z.number().int().min(0).max(32),
  /** A waiting room's admissions per second: a change takes effect at the next admission tick. */
  inletPerSecond: z.number().int().min(1).max(100_000),
  admissionWindowSeconds: z.number().int().min(10).max(3600),
};
