import { datetime, int, mysqlTable, varchar } from "drizzle-orm/mysql-core";
import { identifier } from "./identifier.js";

/** A sale: one item, a fixed stock, a window. Stock counts live in Redis while the sale runs. */
export const sales = mysqlTable("sales", {
  id: identifier("id", 64).primaryKey(),
  title: varchar("title", { length: 200 }).notNull(),
  priceCents: int("price_cents", { unsigned: true }).notNull(),
  totalStock: int("total_stock", { unsigned: true }).notNull(),
  startsAt: datetime("starts_at", { mode: "date", fsp: 3 }).notNull(),
  endsAt: datetime("ends_at", { mode: "date", fsp: 3 }).notNull(),
  paymentTimeoutSeconds: int("payment_timeout_seconds", { unsigned: true }).notNull().default(900),
  perUserLimit: int("per_user_limit", { unsigned: true }).notNull().default(1),
  createdAt: datetime("created_at", { mode: "date", fsp: 3 }).notNull(),
  /**
   * Where the sale's stock lives (its home): the identity of a Redis deployment (a random id that
   * deployment keeps under the key prefix, see apps/domain/stock-home.ts) and the key prefix.
   * Recorded by the first preload; NULL until then. Only an instance with this home preloads,
   * rebuilds or sells the sale; POST /admin/sales/:id/move-stock-home changes it.
   */
  stockHomeRedis: identifier("stock_home_redis", 64),
  stockHomePrefix: identifier("stock_home_prefix", 255),
});

export type Sale = typeof sales.$inferSelect;
