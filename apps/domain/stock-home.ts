import { randomBytes } from "node:crypto";
import { and, eq, isNull } from "drizzle-orm";
import type { Db } from "../core/db/client.js";
import { sales } from "../core/db/schema/index.js";
import type { Redis } from "../core/redis.js";
import { createSaleStore } from "./sale-store.js";

/**
 * Every sale's stock has one home: one Redis deployment and key prefix. Two stock pools for one
 * sale (two platforms sharing a MySQL database, each rebuilding the other's sales into its own
 * Redis) sell the stock twice, so the home is recorded on the sale (sales.stock_home_*) by its
 * first preload, and only an instance at that home preloads, rebuilds or sells it.
 *
 * A deployment's identity is a random id the deployment keeps in Redis under the key prefix,
 * minted by whichever instance asks first (SET NX). Not Redis's run_id, which changes on every
 * restart; not the Redis URL, which two deployments may share (`127.0.0.1:6379` on two hosts)
 * and one deployment may be reached by under several names. A Redis that lost all its data,
 * its identity with it, is a new home: its sales stay where they were recorded until an admin
 * moves them (POST /admin/sales/:id/move-stock-home), which fails safe rather than sells twice.
 */
export interface StockHome {
  /** The deployment's identity (the id under `<prefix>stock-home:id`). */
  redis: string;
  /** The key prefix the sale's keys live under. */
  prefix: string;
}

export const identityKey = (prefix: string) => `${prefix}stock-home:id`;

export const sameHome = (a: StockHome, b: StockHome) => a.redis === b.redis && a.prefix === b.prefix;

export function describeHome(h: StockHome): string {
  return `Redis ${h.redis} under prefix "${h.prefix}"`;
}

/** The sale row's recorded home, or null before its first preload. */
export function recordedHome(row: { stockHomeRedis: string | null; stockHomePrefix: string | null }): StockHome | null {
  return row.stockHomeRedis === null ? null : { redis: row.stockHomeRedis, prefix: row.stockHomePrefix ?? "" };
}

/** What `inspect` found of a sale at some home. */
export interface HomeContents {
  /** The identity found under the home's prefix (null: none, e.g. a wiped Redis). */
  identity: string | null;
  remaining: number | null;
  pendingHandoff: number;
  loaded: boolean;
}

export function createStockHomes(deps: { db: Db; redis: Redis; prefix: string }) {
  const { db, redis, prefix } = deps;

  /** This instance's home (mints the deployment's identity on first use). Read each time: never a cached identity after a wipe. */
  async function here(): Promise<StockHome> {
    const id = await createSaleStore(redis, prefix).deploymentIdentity.ensure(`redis-${randomBytes(8).toString("hex")}`);
    return { redis: id, prefix };
  }

  /** The sale's recorded home, or undefined when there is no such sale. */
  async function recorded(saleId: string): Promise<StockHome | null | undefined> {
    const [row] = await db
      .select({ stockHomeRedis: sales.stockHomeRedis, stockHomePrefix: sales.stockHomePrefix })
      .from(sales)
      .where(eq(sales.id, saleId))
      .limit(1);
    return row ? recordedHome(row) : undefined;
  }

  /**
   * Records this instance as the sale's home if it has none (a conditional update: of two
   * instances claiming at once, one wins). Returns whether the sale's home is here, and both.
   */
  async function claim(saleId: string): Promise<{ here: boolean; home: StockHome; self: StockHome }> {
    const self = await here();
    await db
      .update(sales)
      .set({ stockHomeRedis: self.redis, stockHomePrefix: self.prefix })
      .where(and(eq(sales.id, saleId), isNull(sales.stockHomeRedis)));
    const home = (await recorded(saleId)) ?? self;
    return { here: sameHome(home, self), home, self };
  }

  /** What a Redis (this instance's, or another deployment's client) holds of the sale at `home`. */
  async function inspect(client: Redis, saleId: string, home: StockHome): Promise<HomeContents> {
    const other = createSaleStore(client, home.prefix);
    const [identity, held] = await Promise.all([other.deploymentIdentity.read(), other.inspect(saleId)]);
    return { identity, ...held };
  }

  /**
   * Deletes the sale's keys at `home` if it holds no stock (no unit left, no accepted order still
   * waiting for Kafka; see the sale store's evacuate). Returns what it found when it refused.
   */
  function evacuate(client: Redis, saleId: string, home: StockHome) {
    return createSaleStore(client, home.prefix).evacuate(saleId);
  }

  /** Re-points the sale's home from `from` to `to`, only if it is still `from`. */
  async function repoint(saleId: string, from: StockHome | null, to: StockHome): Promise<boolean> {
    const where = from
      ? and(eq(sales.id, saleId), eq(sales.stockHomeRedis, from.redis), eq(sales.stockHomePrefix, from.prefix))
      : and(eq(sales.id, saleId), isNull(sales.stockHomeRedis));
    const [res] = await db.update(sales).set({ stockHomeRedis: to.redis, stockHomePrefix: to.prefix }).where(where);
    return res.affectedRows === 1;
  }

  return { here, recorded, claim, inspect, evacuate, repoint };
}

export type StockHomes = ReturnType<typeof createStockHomes>;
