import { datetime, int, mysqlTable, varchar } from "drizzle-orm/mysql-core";

/** A sale: one item, a fixed stock, a window. Stock counts live in Redis while the sale runs. */
export const sales = mysqlTable("sales", {
  id: varchar("id", { length: 64 }).primaryKey(),
  title: varchar("title", { length: 200 }).notNull(),
  priceCents: int("price_cents", { unsigned: true }).notNull(),
  totalStock: int("total_stock", { unsigned: true }).notNull(),
  startsAt: datetime("starts_at", { mode: "date", fsp: 3 }).notNull(),
  endsAt: datetime("ends_at", { mode: "date", fsp: 3 }).notNull(),
  paymentTimeoutSeconds: int("payment_timeout_seconds", { unsigned: true }).notNull().default(900),
  perUserLimit: int("per_user_limit", { unsigned: true }).notNull().default(1),
  createdAt: datetime("created_at", { mode: "date", fsp: 3 }).notNull(),
});

export type Sale = typeof sales.$inferSelect;
