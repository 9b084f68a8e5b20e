import { asc, count, eq, isNull, sql } from "drizzle-orm";
import type { Db } from "../core/db/client.js";
import { orderEvents } from "../core/db/schema/index.js";

/** Unsent outbox rows and the age of the oldest (seconds; 0 when none): the relay's lag. */
export async function outboxBacklog(db: Db): Promise<{ unsent: number; oldestAgeSeconds: number }> {
  const [[n], [oldest]] = await Promise.all([
    db.select({ n: count() }).from(orderEvents).where(isNull(orderEvents.sentAt)),
    // The oldest by seq, not MIN(queued_at): an index probe instead of a scan of the backlog.
    db
      .select({ age: sql<string>`TIMESTAMPDIFF(MICROSECOND, ${orderEvents.queuedAt}, NOW(3)) / 1e6` })
      .from(orderEvents)
      .where(isNull(orderEvents.sentAt))
      .orderBy(asc(orderEvents.seq))
      .limit(1),
  ]);
  return { unsent: Number(n.n), oldestAgeSeconds: oldest ? Math.max(0, Number(oldest.age)) : 0 };
}

/**
 * Makes every outbox event of the sale due again: the relay republishes them, in order per order,
 * with the same event ids (consumers that still have them skip them; one that lost its data
 * applies them again). Events pruned after the retention period cannot be replayed. Returns how
 * many events of how many orders were queued.
 */
export async function replaySaleEvents(db: Db, saleId: string): Promise<{ events: number; orders: number }> {
  const [res] = await db.update(orderEvents).set({ sentAt: null, queuedAt: sql`NOW(3)` }).where(eq(orderEvents.saleId, saleId));
  const [o] = await db
    .select({ n: sql<number>`COUNT(DISTINCT ${orderEvents.orderId})` })
    .from(orderEvents)
    .where(eq(orderEvents.saleId, saleId));
  return { events: res.affectedRows, orders: Number(o.n) };
}
