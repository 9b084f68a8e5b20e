import { z } from "zod";

/** A purchase's body: `{}` (or empty) or `{"quantity":1}`; nothing else. */
export const purchaseBodySchema = z
  .object({
    quantity: z.literal(1, { error: "quantity must be 1: each order buys one unit (perUserLimit caps orders per user)" }).optional(),
  })
  .strict();

/** An Idempotency-Key: 1-128 printable ASCII characters, compared byte for byte. */
export const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,128}$/;
/** The edge's 503 while MAX_INFLIGHT_PURCHASES purchases are in flight (the route and the sold-out fast path). */
export const OVERLOADED_MESSAGE = "too many purchases in flight; retry shortly";

export const IDEMPOTENCY_KEY_MESSAGE = "Idempotency-Key must be 1-128 printable ASCII characters";

/**
 * The body nearly every buyer sends, answered without zod: the gateway checks every purchase's
 * body before anything else (a malformed request is a 400 whatever the sale's state).
 */
export function isPlainPurchaseBody(raw: string): boolean {
  return raw === "" || raw === "{}" || raw === '{"quantity":1}';
}

/** A purchase the caller has already checked: a sale id of the sale-id alphabet, a valid body, the user authenticated. */
export interface PurchaseInput {
  saleId: string;
  userId: string;
  /** The request's Idempotency-Key (1-128 printable ASCII), or "" for none. */
  idempotencyKey: string;
}

/** The 202's body. */
export interface Accepted {
  orderId: string;
  status: "queued";
}

/** Reserves one unit for a user; resolves with the order, or throws the refusal as an AppError (409, 410, 403, 503, ...). */
export type Purchase = (input: PurchaseInput) => Promise<Accepted>;
