import { sql } from "drizzle-orm";
import { bigint, datetime, index, int, mysqlTable, uniqueIndex, varchar } from "drizzle-orm/mysql-core";
import { identifier } from "./identifier.js";

export const ORDER_EVENT_TYPES = ["order.created", "order.paid", "order.closed", "order.refund_required"] as const;
export type OrderEventType = (typeof ORDER_EVENT_TYPES)[number];

/**
 * The transactional outbox of `seckill.order-events`: one row per order state change, inserted
 * in the same MySQL transaction as the change itself (no change commits without its row, no
 * row exists without its change). The relay publishes unsent rows in `seq` order and sets
 * `sent_at` only after Kafka acknowledged them; sent rows are pruned after the retention period.
 *
 * `(order_id, version)` is unique: one event per step of an order's lifecycle, whatever retries
 * or races happen. `event_id` (a ULID minted with the row) has no index of its own: nothing here
 * looks an event up by it, and every index is paid for by the order writer's insert. `queued_at` is when the row became due for publishing (its insert, or the
 * last admin replay): the relay's lag is measured from it.
 */
export const orderEvents = mysqlTable(
  "order_events",
  {
    seq: bigint("seq", { mode: "number", unsigned: true }).autoincrement().primaryKey(),
    eventId: identifier("event_id", 32).notNull(),
    type: varchar("type", { length: 32, enum: ORDER_EVENT_TYPES }).notNull(),
    orderId: identifier("order_id", 32).notNull(),
    saleId: identifier("sale_id", 64).notNull(),
    userId: identifier("user_id", 64).notNull(),
    amountCents: bigint("amount_cents", { mode: "number", unsigned: true }).notNull(),
    version: int("version", { unsigned: true }).notNull(),
    occurredAt: datetime("occurred_at", { mode: "date", fsp: 3 }).notNull(),
    queuedAt: datetime("queued_at", { mode: "date", fsp: 3 }).notNull().default(sql`CURRENT_TIMESTAMP(3)`),
    sentAt: datetime("sent_at", { mode: "date", fsp: 3 }),
  },
  (t) => [
    uniqueIndex("order_events_order_version").on(t.orderId, t.version),
    // The relay's scan (sent_at IS NULL, by seq) and the pruning (sent_at < cutoff).
    index("order_events_unsent").on(t.sentAt, t.seq),
    index("order_events_sale").on(t.saleId, t.seq),
  ],
);

export type OrderEventRow = typeof orderEvents.$inferSelect;
export type NewOrderEventRow = typeof orderEvents.$inferInsert;
