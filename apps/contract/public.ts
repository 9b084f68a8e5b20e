import { z } from "zod";
import { isUserId } from "../domain/order-message.js";
import { paymentCallbackSchema } from "../domain/payment-event.js";
import { purchaseBodySchema } from "../domain/purchase-request.js";
import { htmlPage, type Operation } from "./registry.js";
import { accepted, devToken, health, publicSale, ready, userOrder } from "./schemas.js";

/** The body of POST /api/sales/:saleId/orders (the API validates with it). */
export const purchaseBody = purchaseBodySchema.meta({
  id: "PurchaseRequest",
  description: '`{}` or `{"quantity":1}`; an empty body counts as `{}`',
});

export const devTokenBody = z
  .object({
    userId: z
      .string()
      .min(1)
      .max(64)
      .refine(isUserId, "userId must be 1-64 bytes of UTF-8, visible characters only (no whitespace or control characters)"),
  })
  .strict()
  .meta({ id: "DevTokenRequest" });

export const devPayBody = z
  .object({
    orderId: z.string().min(1).max(64),
    status: z.enum(["succeeded", "failed"]).default("succeeded"),
  })
  .strict()
  .meta({ id: "DevPayRequest" });

const saleId = z.string().meta({ description: "the sale id, byte-exact", example: "spring-drop" });
const orderId = z.string().meta({ description: "the order id (a ULID) from the 202" });

export const publicOperations: Operation[] = [
  {
    method: "get",
    path: "/api/sales/:saleId",
    tag: "public",
    summary: "A sale with its live remaining stock and state",
    description:
      "Cacheable for one second (`Cache-Control: public, max-age=1`); `serverTime` lets a page count down on the server's clock.",
    params: { saleId },
    ok: { 200: { description: "the sale", schema: publicSale, headers: { "Cache-Control": "public, max-age=1" } } },
    errors: ["sale_not_found"],
  },
  {
    method: "post",
    path: "/api/sales/:saleId/orders",
    tag: "public",
    summary: "Buy one unit",
    description:
      "Reserves one unit atomically and answers 202 with the order id; the order reaches MySQL through Kafka (poll GET /api/orders/:orderId until `pending_payment`). " +
      "The same `Idempotency-Key` from the same user returns the first order. Refusals that say when to come back carry `Retry-After`.",
    security: "user",
    params: { saleId },
    headers: z.object({
      "Idempotency-Key": z
        .string()
        .optional()
        .meta({ description: "1-128 printable ASCII characters; a retry with the same key returns the first order" }),
      "X-Purchase-Pass": z.string().optional().meta({ description: "the purchase pass, for sales whose admission is `pass` or `queue`" }),
    }),
    body: purchaseBody,
    ok: { 202: { description: "accepted: the order is queued", schema: accepted } },
    errors: [
      "invalid_request",
      "unauthorized",
      "sale_not_started",
      "sale_ended",
      "sale_not_found",
      "pass_required",
      "invalid_pass",
      "already_purchased",
      "sold_out",
      "rate_limited",
      "overloaded",
      "unavailable",
    ],
  },
  {
    method: "get",
    path: "/api/orders/:orderId",
    tag: "public",
    summary: "The caller's order",
    description: "Another user's order is 404, exactly like a missing one.",
    security: "user",
    params: { orderId },
    ok: { 200: { description: "the order", schema: userOrder } },
    errors: ["unauthorized", "order_not_found"],
  },
  {
    method: "post",
    path: "/api/payments/callback",
    tag: "payments",
    summary: "The payment provider's callback",
    description:
      "`X-Signature` = hex HMAC-SHA256 with PAYMENT_WEBHOOK_SECRET of `<X-Timestamp>.<raw body>`; `X-Timestamp` in Unix seconds, within 300 s. " +
      "A repeated event answers 200 too and changes nothing. 503 when the event could not be recorded: the provider retries.",
    headers: z.object({
      "X-Timestamp": z.string().meta({ description: "Unix seconds" }),
      "X-Signature": z.string().meta({ description: "hex HMAC-SHA256" }),
    }),
    body: paymentCallbackSchema.meta({ id: "PaymentCallback" }),
    ok: { 200: { description: "recorded", schema: z.object({ received: z.literal(true) }) } },
    errors: ["invalid_request", "bad_signature", "unavailable"],
  },
  {
    method: "get",
    path: "/healthz",
    tag: "operations",
    summary: "The process is alive",
    ok: { 200: { description: "alive", schema: health } },
  },
  {
    method: "get",
    path: "/readyz",
    tag: "operations",
    summary: "Every dependency answers",
    ok: { 200: { description: "ready", schema: ready } },
    errors: ["not_ready"],
  },
  {
    method: "get",
    path: "/metrics",
    tag: "operations",
    summary: "Prometheus metrics of the platform",
    description: "On the public port only with `Authorization: Bearer <ADMIN_TOKEN>` (the figures name every sale); or scrape OPS_PORT.",
    security: "admin",
    ok: { 200: { description: "Prometheus text format", schema: z.string(), contentType: "text/plain" } },
    errors: ["unauthorized"],
  },
  {
    method: "get",
    path: "/openapi.json",
    tag: "pages",
    summary: "This document (OpenAPI 3.1)",
    ok: { 200: { description: "the document", schema: z.record(z.string(), z.unknown()) } },
  },
  {
    method: "get",
    path: "/docs",
    tag: "pages",
    summary: "The API reference page (renders /openapi.json)",
    ok: { 200: { description: "HTML", schema: z.string(), contentType: "text/html" } },
  },
  htmlPage({
    path: "/",
    tag: "pages",
    summary: "The storefront demo page (static, cacheable: Cache-Control and ETag)",
    cacheControl: "public, max-age=60",
  }),
];

/** Routes that exist only outside production (NODE_ENV != production). */
export const devOperations: Operation[] = [
  {
    method: "post",
    path: "/api/dev/token",
    tag: "development",
    summary: "Development only: a user token for any user id",
    description: "Absent when NODE_ENV=production (404). Signs an HS256 token with JWT_SECRET, valid for an hour.",
    body: devTokenBody,
    ok: { 200: { description: "the token", schema: devToken } },
    errors: ["invalid_request"],
  },
  {
    method: "post",
    path: "/api/dev/pay",
    tag: "development",
    summary: "Development only: pay the caller's order through the payment simulator",
    description:
      "Absent when NODE_ENV=production (404). Signs a provider callback for the order's amount server-side and sends it to POST /api/payments/callback.",
    security: "user",
    body: devPayBody,
    ok: {
      200: {
        description: "the callback was delivered; the order becomes paid when the payments consumer applies it",
        schema: z.object({ orderId: z.string(), eventId: z.string(), callbackStatus: z.number().int() }),
      },
    },
    errors: ["invalid_request", "unauthorized", "order_not_found", "conflict"],
  },
];
