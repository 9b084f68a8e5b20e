import { bigint, datetime, int, mysqlTable, varchar } from "drizzle-orm/mysql-core";
import { identifier } from "../../core/db/schema/identifier.js";

/**
 * The loyalty ledger's own tables (a consumer of seckill.order-events; it shares the platform's
 * MySQL server here for convenience, but owns these tables and their migrations, and reads
 * nothing of the platform's).
 */

/** Every event id applied or skipped, written in the same transaction as its effect: the dedupe. */
export const loyaltyProcessedEvents = mysqlTable("loyalty_processed_events", {
  eventId: identifier("event_id", 64).primaryKey(),
  orderId: identifier("order_id", 32).notNull(),
  version: int("version", { unsigned: true }).notNull(),
  /** applied, or stale (an older version than the ledger holds: a replay or a redelivery under another id) */
  outcome: varchar("outcome", { length: 16, enum: ["applied", "stale"] }).notNull(),
  processedAt: datetime("processed_at", { mode: "date", fsp: 3 }).notNull(),
});

/** What the ledger knows of each order: the latest version applied and the points it earned. */
export const loyaltyOrders = mysqlTable("loyalty_orders", {
  orderId: identifier("order_id", 32).primaryKey(),
  saleId: identifier("sale_id", 64).notNull(),
  userId: identifier("user_id", 64).notNull(),
  status: varchar("status", { length: 20 }).notNull(),
  version: int("version", { unsigned: true }).notNull(),
  amountCents: bigint("amount_cents", { mode: "number", unsigned: true }).notNull(),
  points: bigint("points", { mode: "number" }).notNull(),
  updatedAt: datetime("updated_at", { mode: "date", fsp: 3 }).notNull(),
});

/** Each user's points balance: the sum of their orders' points. */
export const loyaltyBalances = mysqlTable("loyalty_balances", {
  userId: identifier("user_id", 64).primaryKey(),
  points: bigint("points", { mode: "number" }).notNull(),
});
