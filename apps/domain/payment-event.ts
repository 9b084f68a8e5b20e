import { createHmac, timingSafeEqual } from "node:crypto";
import { z } from "zod";
import { ORDER_ID_PATTERN } from "../core/ids.js";

/**
 * The payment provider's callback: `X-Timestamp` (Unix seconds) and `X-Signature` = hex
 * HMAC-SHA256 with PAYMENT_WEBHOOK_SECRET of `<X-Timestamp>.<raw body>`.
 */
export const SIGNATURE_TOLERANCE_S = 300;

export function signPayment(secret: string, timestamp: number | string, rawBody: string): string {
  return createHmac("sha256", secret).update(`${timestamp}.${rawBody}`).digest("hex");
}

/** True when the timestamp is within the tolerance and the signature matches (compared in constant time). */
export function verifyPaymentSignature(
  secret: string,
  timestamp: string | undefined,
  signature: string | undefined,
  rawBody: string,
  nowSeconds = Math.floor(Date.now() / 1000),
): boolean {
  if (!timestamp || !signature || !/^\d{1,12}$/.test(timestamp) || !/^[0-9a-f]{64}$/i.test(signature)) return false;
  if (Math.abs(nowSeconds - Number(timestamp)) > SIGNATURE_TOLERANCE_S) return false;
  const expected = Buffer.from(signPayment(secret, timestamp, rawBody), "hex");
  return timingSafeEqual(expected, Buffer.from(signature, "hex"));
}

export const paymentCallbackSchema = z
  .object({
    eventId: z.string().min(1).max(128),
    orderId: z.string().regex(ORDER_ID_PATTERN, "orderId is not an order id"),
    providerTxnId: z.string().min(1).max(128),
    amountCents: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    status: z.enum(["succeeded", "failed"]),
  })
  .strict();
export type PaymentCallback = z.infer<typeof paymentCallbackSchema>;

/** The message on `seckill.payments`: the verified callback and when it arrived. */
export const paymentMessageSchema = paymentCallbackSchema.extend({ v: z.literal(1), receivedAt: z.number().int().positive() });
export type PaymentMessage = z.infer<typeof paymentMessageSchema>;
