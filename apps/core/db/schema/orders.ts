import { bigint, datetime, index, int, mysqlTable, tinyint, uniqueIndex, varchar } from "drizzle-orm/mysql-core";
import { identifier } from "./identifier.js";

export const ORDER_STATUSES = ["pending_payment", "paid", "closed", "refund_required"] as const;
export type OrderRowStatus = (typeof ORDER_STATUSES)[number];

/**
 * One row per accepted order (an order is `queued` only in Redis/Kafka, so that status never
 * appears here). Every status change is a conditional update `... WHERE status = <expected>`.
 *
 * Uniqueness: `id` (the order id minted at reservation) makes redelivery harmless;
 * `(sale_id, user_id, live_slot)` is the per-user backstop. `live_slot` is the user's slot
 * number (1..perUserLimit) while the order is live and NULL once it is closed, so a user whose
 * unpaid order expired may buy again (MariaDB has no partial unique indexes; NULLs never collide).
 */
export const orders = mysqlTable(
  "orders",
  {
    id: identifier("id", 32).primaryKey(),
    saleId: identifier("sale_id", 64).notNull(),
    userId: identifier("user_id", 64).notNull(),
    /** The user's slot this order holds (1..perUserLimit); kept after close so the release knows which to free. */
    slot: tinyint("slot", { unsigned: true }).notNull().default(1),
    liveSlot: tinyint("live_slot", { unsigned: true }),
    quantity: int("quantity", { unsigned: true }).notNull(),
    amountCents: bigint("amount_cents", { mode: "number", unsigned: true }).notNull(),
    status: varchar("status", { length: 20, enum: ORDER_STATUSES }).notNull(),
    /** When Redis accepted the order (the 202). */
    createdAt: datetime("created_at", { mode: "date", fsp: 3 }).notNull(),
    persistedAt: datetime("persisted_at", { mode: "date", fsp: 3 }).notNull(),
    payBy: datetime("pay_by", { mode: "date", fsp: 3 }).notNull(),
    paidAt: datetime("paid_at", { mode: "date", fsp: 3 }),
    closedAt: datetime("closed_at", { mode: "date", fsp: 3 }),
    /**
     * When the closed order's unit went back to Redis. NULL on a closed order means the release
     * is still owed: the expiry worker retries it (release-4.lua makes a repeat harmless).
     */
    releasedAt: datetime("released_at", { mode: "date", fsp: 3 }),
  },
  (t) => [
    uniqueIndex("orders_sale_user_slot").on(t.saleId, t.userId, t.liveSlot),
    index("orders_status_pay_by").on(t.status, t.payBy),
    index("orders_sale_status").on(t.saleId, t.status),
    index("orders_release_owed").on(t.releasedAt, t.closedAt),
  ],
);

export type Order = typeof orders.$inferSelect;
export type NewOrder = typeof orders.$inferInsert;
