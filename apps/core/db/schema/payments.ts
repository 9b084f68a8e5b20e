import { bigint, datetime, index, mysqlTable, uniqueIndex, varchar } from "drizzle-orm/mysql-core";
import { identifier } from "./identifier.js";

/**
 * What a payment did: applied (order paid), refund_required (it came after the order closed),
 * duplicate_payment (the order was already paid by another transaction: refund it),
 * amount_mismatch (recorded and alerted, not applied), failed (the provider says it failed),
 * unknown_order (no such order, or its order never became a row within the wait), txn_conflict
 * (the provider transaction id already belongs to another order: recorded in payment_conflicts,
 * never applied; the payments row stays with its first order).
 */
export const PAYMENT_OUTCOMES = [
  "applied",
  "refund_required",
  "duplicate_payment",
  "amount_mismatch",
  "failed",
  "unknown_order",
  "txn_conflict",
] as const;
export type PaymentOutcome = (typeof PAYMENT_OUTCOMES)[number];

/**
 * One row per provider transaction: the unique provider transaction id is the idempotency
 * backstop for callbacks that arrive many times, from many servers, at once.
 */
export const payments = mysqlTable(
  "payments",
  {
    /** Up to 128 characters of any script (the callback schema), so up to 512 bytes of UTF-8. */
    providerTxnId: identifier("provider_txn_id", 512).primaryKey(),
    eventId: identifier("event_id", 512).notNull(),
    orderId: identifier("order_id", 32).notNull(),
    amountCents: bigint("amount_cents", { mode: "number", unsigned: true }).notNull(),
    status: varchar("status", { length: 16, enum: ["succeeded", "failed"] }).notNull(),
    outcome: varchar("outcome", { length: 20, enum: PAYMENT_OUTCOMES }).notNull(),
    receivedAt: datetime("received_at", { mode: "date", fsp: 3 }).notNull(),
  },
  (t) => [uniqueIndex("payments_event_id").on(t.eventId), index("payments_order_id").on(t.orderId)],
);

export type Payment = typeof payments.$inferSelect;

/**
 * A provider transaction id used for a second order. A transaction belongs to the first order it
 * was reported for, for ever (its payments row is never re-pointed); each later use for another
 * order is kept here, one row per event, for the person reconciling with the provider.
 */
export const paymentConflicts = mysqlTable(
  "payment_conflicts",
  {
    eventId: identifier("event_id", 512).primaryKey(),
    providerTxnId: identifier("provider_txn_id", 512).notNull(),
    /** The order this event named. */
    orderId: identifier("order_id", 32).notNull(),
    /** The order the transaction belongs to (its payments row). */
    firstOrderId: identifier("first_order_id", 32).notNull(),
    amountCents: bigint("amount_cents", { mode: "number", unsigned: true }).notNull(),
    status: varchar("status", { length: 16, enum: ["succeeded", "failed"] }).notNull(),
    receivedAt: datetime("received_at", { mode: "date", fsp: 3 }).notNull(),
  },
  (t) => [index("payment_conflicts_txn").on(t.providerTxnId)],
);
