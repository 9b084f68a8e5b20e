import { z } from "zod";
import { ERROR_STATUS, type ErrorCode } from "../core/errors.js";

/**
 * Zod schemas of what the HTTP API answers, shared by the OpenAPI document (./document.ts) and
 * the routes that validate with them. `.meta({ id })` makes a schema a named component.
 */

export const isoTime = z.iso.datetime({ offset: true }).meta({ description: "ISO-8601 UTC time", example: "2026-11-30T12:00:00.000Z" });

export const errorBody = z
  .object({
    error: z
      .object({
        code: z.enum(Object.keys(ERROR_STATUS) as [ErrorCode, ...ErrorCode[]]),
        message: z.string().meta({ description: "what happened and what to do, for a person" }),
        requestId: z.string().optional().meta({ description: "the X-Request-Id of the request, to find it in the logs" }),
      })
      .catchall(z.unknown()),
  })
  .meta({ id: "Error", description: 'Every error: `{"error":{"code","message"}}`; more fields (saleId, startsAt, ...) may follow.' });

export const saleState = z.enum(["upcoming", "open", "sold_out", "ended"]).meta({ id: "SaleState" });

export const publicSale = z
  .object({
    id: z.string(),
    title: z.string(),
    priceCents: z.number().int().meta({ description: "price in cents" }),
    totalStock: z.number().int(),
    remaining: z.number().int().meta({ description: "units left to sell (the whole stock before the preload)" }),
    startsAt: isoTime,
    endsAt: isoTime,
    state: saleState,
    serverTime: isoTime.optional().meta({ description: "the server's clock when it answered, for countdowns (add the Age header)" }),
  })
  .catchall(z.unknown())
  .meta({ id: "PublicSale" });

export const orderStatus = z.enum(["queued", "pending_payment", "paid", "closed", "refund_required"]).meta({ id: "OrderStatus" });

export const userOrder = z
  .object({
    orderId: z.string(),
    saleId: z.string(),
    status: orderStatus,
    createdAt: isoTime,
    payBy: isoTime.optional().meta({ description: "unpaid at this time, the order closes and its unit returns to sale" }),
  })
  .meta({ id: "UserOrder" });

export const accepted = z
  .object({ orderId: z.string().meta({ description: "a ULID" }), status: z.literal("queued") })
  .meta({ id: "PurchaseAccepted" });

export const health = z.object({ status: z.literal("ok") });
export const ready = z.object({ status: z.literal("ready"), checks: z.record(z.string(), z.string()) });

export const adminSale = z
  .object({
    id: z.string(),
    title: z.string(),
    priceCents: z.number().int(),
    totalStock: z.number().int(),
    startsAt: isoTime,
    endsAt: isoTime,
    paymentTimeoutSeconds: z.number().int(),
    perUserLimit: z.number().int(),
    createdAt: isoTime,
  })
  .catchall(z.unknown())
  .meta({ id: "Sale" });

export const saleStats = z
  .object({
    id: z.string(),
    totalStock: z.number().int(),
    loaded: z.boolean().meta({ description: "the stock is in Redis (preloaded)" }),
    remaining: z.number().int(),
    accepted: z.number().int().meta({ description: "202s given (reservations in Redis)" }),
    persisted: z.number().int().meta({ description: "order rows in MySQL, any status" }),
    pendingPayment: z.number().int(),
    paid: z.number().int(),
    closed: z.number().int(),
    refundRequired: z.number().int(),
    pendingHandoff: z.number().int().meta({ description: "accepted orders Kafka has not acknowledged yet" }),
    oldestPendingHandoffMs: z.number().int(),
    writerLag: z
      .number()
      .int()
      .nullable()
      .meta({ description: "messages on seckill.orders not persisted yet (all sales); null when Kafka does not answer" }),
    blocked: z.boolean().meta({ description: "the sale waits for reconcile (Redis restarted or lost data)" }),
    inTransit: z.number().int(),
    stockBuckets: z.number().int().meta({ description: "Redis buckets the stock is split over (1-64)" }),
    buckets: z
      .array(z.object({ bucket: z.number().int(), remaining: z.number().int().nullable(), accepted: z.number().int() }))
      .meta({ description: "each stock bucket's units left (null: not loaded) and orders accepted" }),
  })
  .catchall(z.unknown())
  .meta({ id: "SaleStats" });

export const saleListItem = z
  .object({
    id: z.string(),
    title: z.string(),
    state: saleState,
    totalStock: z.number().int(),
    loaded: z.boolean(),
    remaining: z.number().int(),
    accepted: z.number().int(),
    persisted: z.number().int(),
    paid: z.number().int(),
    startsAt: isoTime,
    endsAt: isoTime,
  })
  .meta({ id: "SaleListItem" });

export const reconcileReport = z
  .object({
    saleId: z.string(),
    state: z.enum(["consistent", "repaired", "recomputed", "waiting_for_writer", "needs_attention"]),
  })
  .catchall(z.unknown())
  .meta({ id: "ReconcileReport", description: "Redis vs Kafka vs MySQL for one sale, and what was repaired" });

export const payment = z
  .object({
    providerTxnId: z.string(),
    eventId: z.string(),
    amountCents: z.number().int(),
    outcome: z.string(),
  })
  .catchall(z.unknown())
  .meta({ id: "Payment" });

export const adminOrder = z
  .object({
    id: z.string(),
    saleId: z.string(),
    userId: z.string(),
    status: orderStatus,
    amountCents: z.number().int(),
    payments: z.array(payment),
  })
  .catchall(z.unknown())
  .meta({ id: "AdminOrder" });

export const historyEvent = z
  .object({
    at: isoTime.nullable().meta({ description: "when it happened, when known" }),
    source: z.enum(["redis", "kafka", "mysql", "payments", "dlq"]),
    what: z.string(),
    detail: z.record(z.string(), z.unknown()).optional(),
  })
  .meta({ id: "OrderHistoryEvent" });

export const orderHistory = z
  .object({
    orderId: z.string(),
    saleId: z.string().nullable(),
    userId: z.string().nullable(),
    status: z.union([orderStatus, z.literal("unknown")]),
    events: z.array(historyEvent),
  })
  .meta({ id: "OrderHistory" });

export const deadLetter = z
  .object({
    id: z.string().meta({ description: "<partition>:<offset> on seckill.orders.dlq" }),
    partition: z.number().int(),
    offset: z.string(),
    at: isoTime,
    reason: z.string(),
    detail: z.string(),
    orderId: z.string().nullable(),
    saleId: z.string().nullable(),
    value: z.string().meta({ description: "the message as the writer got it (UTF-8)" }),
    redrivenAt: isoTime.nullable(),
  })
  .meta({ id: "DeadLetter" });

export const liveSnapshot = z
  .object({
    at: isoTime,
    stats: saleStats,
    sale: adminSale,
    state: saleState,
    responses: z
      .record(z.string(), z.number())
      .meta({ description: "purchase answers so far by HTTP status (counters: take differences for rates)" }),
    latencyBuckets: z
      .array(z.object({ le: z.number().nullable(), count: z.number() }))
      .meta({ description: "cumulative histogram of the purchase path's duration at the gateway, seconds (le null = +Inf)" }),
    dlq: z.object({ sale: z.number().int(), total: z.number().int() }),
  })
  .meta({ id: "LiveSnapshot" });

export const devToken = z.object({ userId: z.string(), token: z.string(), expiresAt: isoTime }).meta({ id: "DevToken" });
