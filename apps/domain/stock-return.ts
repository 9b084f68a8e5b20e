import { and, inArray, isNotNull, isNull, sql } from "drizzle-orm";
import type { Db } from "../core/db/client.js";
import { orders } from "../core/db/schema/index.js";
import type { SaleStore } from "./sale-store.js";

export interface ClosedOrder {
  id: string;
  saleId: string;
  userId: string;
  slot: number;
}

/**
 * Returns closed orders' units to Redis (release-4.lua: once per order) and marks them
 * `released_at` in MySQL. Orders Redis cannot release (the sale or the slot is unknown there:
 * Redis lost data) stay owed and are reported as "<saleId>: <reason>", for reconcile to settle.
 * The expiry worker and reconcile both go through here.
 */
export async function returnStock(db: Db, store: SaleStore, closed: ClosedOrder[]): Promise<{ released: number; stuck: string[] }> {
  let released = 0;
  const done: string[] = [];
  const stuck = new Set<string>();
  for (const o of closed) {
    const out = await store.release(o.saleId, o.id, o.userId, o.slot);
    if (out.kind === "released" || out.kind === "already_released") {
      done.push(o.id);
      if (out.kind === "released") released++;
    } else stuck.add(`${o.saleId}: ${out.kind}`);
  }
  if (done.length) {
    await db
      .update(orders)
      .set({ releasedAt: sql`NOW(3)` })
      .where(and(inArray(orders.id, done), isNull(orders.releasedAt), isNotNull(orders.closedAt)));
  }
  return { released, stuck: [...stuck] };
}
