import { inArray } from "drizzle-orm";
import { bulkInsert } from "../core/db/bulk-insert.js";
import type { Db } from "../core/db/client.js";
import { ER_DUP_ENTRY, sqlErrno } from "../core/db/errors.js";
import { type NewOrder, orders } from "../core/db/schema/index.js";
import { orderEvent, recordOrderEventsOn } from "../domain/order-events.js";
import type { OrderMessage } from "../domain/order-message.js";

export function toRow(m: OrderMessage, now: Date): NewOrder {
  return {
    id: m.orderId,
    saleId: m.saleId,
    userId: m.userId,
    slot: m.slot,
    liveSlot: m.slot,
    quantity: m.quantity,
    amountCents: m.amountCents,
    status: "pending_payment",
    createdAt: new Date(m.acceptedAt),
    persistedAt: now,
    payBy: new Date(m.payBy),
  };
}

export interface PersistResult {
  inserted: number;
  /** Rows whose order id was already in MySQL: a redelivery, nothing to do. */
  alreadyPersisted: number;
  /** Orders refused by the (sale, user, live slot) key although their id is new: the user already holds that slot. */
  slotConflicts: OrderMessage[];
}

/** The writer's INSERT: every field toRow() sets; the other columns take their defaults (NULL). */
export const ordersInsert = bulkInsert(orders, [
  "id",
  "saleId",
  "userId",
  "slot",
  "liveSlot",
  "quantity",
  "amountCents",
  "status",
  "createdAt",
  "persistedAt",
  "payBy",
]);

/**
 * Inserts rows and their `order.created` events in one transaction: both commit or neither
 * does. A duplicate key rolls back the whole set, so a redelivered order never gets a second
 * event. Straight on a mysql2 connection of the pool (BEGIN, two multi-row INSERTs, COMMIT), as
 * drizzle's db.transaction() would run it, without its query builder (see bulkInsert). The
 * first error propagates; a connection whose ROLLBACK fails is destroyed, never pooled again.
 */
async function insertWithEvents(db: Db, rows: NewOrder[]): Promise<void> {
  const events = rows.map((r) =>
    orderEvent("order.created", { id: r.id, saleId: r.saleId, userId: r.userId, amountCents: r.amountCents }, r.createdAt),
  );
  const conn = await db.$client.getConnection();
  let reusable = true;
  try {
    await conn.beginTransaction();
    try {
      await ordersInsert.run(conn, rows);
      await recordOrderEventsOn(conn, events);
      await conn.commit();
    } catch (err) {
      await conn.rollback().catch(() => {
        reusable = false;
      });
      throw err;
    }
  } finally {
    if (reusable) conn.release();
    else conn.destroy();
  }
}

/**
 * Inserts the orders idempotently, each with its `order.created` event in the same
 * transaction. One multi-row INSERT normally; on a duplicate key (1062, and only that) the ids
 * already present are dropped as done and the rest retried, row by row if need be, to tell a
 * redelivery from a conflicting second order of the same user. Any other error propagates to
 * the caller, which decides whether to retry.
 */
export async function persistOrders(db: Db, messages: OrderMessage[], now = new Date()): Promise<PersistResult> {
  const result: PersistResult = { inserted: 0, alreadyPersisted: 0, slotConflicts: [] };
  if (messages.length === 0) return result;
  try {
    await insertWithEvents(
      db,
      messages.map((m) => toRow(m, now)),
    );
    result.inserted = messages.length;
    return result;
  } catch (err) {
    if (sqlErrno(err) !== ER_DUP_ENTRY) throw err;
  }
  const ids = messages.map((m) => m.orderId);
  const existing = new Set((await db.select({ id: orders.id }).from(orders).where(inArray(orders.id, ids))).map((r) => r.id));
  result.alreadyPersisted = existing.size;
  for (const m of messages) {
    if (existing.has(m.orderId)) continue;
    try {
      await insertWithEvents(db, [toRow(m, now)]);
      result.inserted++;
    } catch (err) {
      if (sqlErrno(err) !== ER_DUP_ENTRY) throw err;
      const [again] = await db
        .select({ id: orders.id })
        .from(orders)
        .where(inArray(orders.id, [m.orderId]));
      if (again)
        result.alreadyPersisted++; // another writer inserted it meanwhile
      else result.slotConflicts.push(m);
    }
  }
  return result;
}
