import { char, datetime, int, mysqlEnum, mysqlTable, tinyint, varchar } from "drizzle-orm/mysql-core";
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
  /** Redis buckets the stock is split over (distinct hash slots, so a hot sale spans several masters). */
  stockBuckets: int("stock_buckets", { unsigned: true }).notNull().default(1),
  createdAt: datetime("created_at", { mode: "date", fsp: 3 }).notNull(),
  /**
   * Where the sale's stock lives (its home): the identity of a Redis deployment (a random id that
   * deployment keeps under the key prefix, see apps/domain/stock-home.ts) and the key prefix.
   * Recorded by the first preload; NULL until then. Only an instance with this home preloads,
   * rebuilds or sells the sale; POST /admin/sales/:id/move-stock-home changes it.
   */
  stockHomeRedis: identifier("stock_home_redis", 64),
  stockHomePrefix: identifier("stock_home_prefix", 255),
  /** How buyers reach the purchase: open (anyone), pass (proof-of-work pass), queue (waiting room). */
  admission: mysqlEnum("admission", ["open", "pass", "queue"]).notNull().default("open"),
  /** Leading zero bits the pass challenge's SHA-256 must have (pass sales). */
  powDifficultyBits: tinyint("pow_difficulty_bits", { unsigned: true }).notNull().default(16),
  /** Waiting-room admissions per second (queue sales); changeable live with PATCH /admin/sales/:id. */
  inletPerSecond: int("inlet_per_second", { unsigned: true }).notNull().default(50),
  /** How long a purchase pass lasts; an admitted buyer who does not buy within it loses the place. */
  admissionWindowSeconds: int("admission_window_seconds", { unsigned: true }).notNull().default(120),
  /** 32 random bytes (hex) that order the pre-start queue; only its SHA-256 is shown before the start. */
  queueSeed: char("queue_seed", { length: 64 }),
});

export type Sale = typeof sales.$inferSelect;
