import { bigint, datetime, index, mysqlTable, uniqueIndex, varchar } from "drizzle-orm/mysql-core";

/**
 * What a payment did: applied (order paid), refund_required (it came after the order closed),
 * duplicate_payment (the order was already paid by another transaction: refund it),
 * amount_mismatch (recorded and alerted, not applied), failed (the provider says it failed),
 * unknown_order (no such order).
 */
export const PAYMENT_OUTCOMES = ["applied", "refund_required", "duplicate_payment", "amount_mismatch", "failed", "unknown_order"] as const;
export type PaymentOutcome = (typeof PAYMENT_OUTCOMES)[number];

/**
 * One row per provider transaction: the unique provider transaction id is the idempotency
 * backstop for callbacks that arrive many times, from many servers, at once.
 */
export const payments = mysqlTable(
  "payments",
  {
    providerTxnId: varchar("provider_txn_id", { length: 128 }).primaryKey(),
    eventId: varchar("event_id", { length: 128 }).notNull(),
    orderId: varchar("order_id", { length: 32 }).notNull(),
    amountCents: bigint("amount_cents", { mode: "number", unsigned: true }).notNull(),
    status: varchar("status", { length: 16, enum: ["succeeded", "failed"] }).notNull(),
    outcome: varchar("outcome", { length: 20, enum: PAYMENT_OUTCOMES }).notNull(),
    receivedAt: datetime("received_at", { mode: "date", fsp: 3 }).notNull(),
  },
  (t) => [uniqueIndex("payments_event_id").on(t.eventId), index("payments_order_id").on(t.orderId)],
);

export type Payment = typeof payments.$inferSelect;
