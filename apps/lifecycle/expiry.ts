import { and, asc, count, eq, gt, inArray, isNotNull, isNull, lte, or, sql } from "drizzle-orm";
import { orders } from "../core/db/schema/index.js";
import { throttledLog } from "../core/log-throttle.js";
import { every } from "../core/periodic.js";
import type { Services } from "../core/services.js";
import { orderEvent, recordOrderEvents } from "../domain/order-events.js";
import type { SaleStore } from "../domain/sale-store.js";
import { returnStock } from "../domain/stock-return.js";

export interface ExpiryOptions {
  /** Orders closed per transaction. */
  batchSize?: number;
  intervalMs?: number;
}

/**
 * Closes unpaid orders past their pay-by deadline and returns their stock.
 *
 * Due orders are found with the `(status, pay_by)` index in small batches (no table scan), and
 * taken with `FOR UPDATE SKIP LOCKED`, so several workers share the work without waiting on
 * each other. The close is conditional (`WHERE status = 'pending_payment'`): a payment that
 * won the race keeps its order. The stock goes back to Redis after the close commits; until it
 * has, `released_at` stays NULL and every pass retries it (release-4.lua makes a repeat a
 * no-op), so a crash between the two loses no stock and returns none twice. Each close writes
 * its `order.closed` event in the same transaction.
 */
export function createExpiryWorker(services: Services, store: SaleStore, opts: ExpiryOptions = {}) {
  const { db } = services.database;
  const { metrics } = services;
  const log = services.logger.child({ component: "expiry" });
  // The pass runs every second and a stuck sale stays stuck until reconcile: say it once a minute.
  const stuckLog = throttledLog(60_000);
  const batchSize = opts.batchSize ?? 100;
  const intervalMs = opts.intervalMs ?? 1000;
  let loop: { stop(): Promise<void> } | undefined;

  /** Closes one batch of due orders; returns how many it closed. */
  async function closeBatch(): Promise<number> {
    return db.transaction(async (tx) => {
      const due = await tx
        .select({ id: orders.id })
        .from(orders)
        .where(and(eq(orders.status, "pending_payment"), lte(orders.payBy, sql`NOW(3)`)))
        .orderBy(asc(orders.payBy))
        .limit(batchSize)
        .for("update", { skipLocked: true });
      if (due.length === 0) return 0;
      const ids = due.map((d) => d.id);
      await tx
        .update(orders)
        .set({ status: "closed", closedAt: sql`NOW(3)`, liveSlot: null })
        .where(and(inArray(orders.id, ids), eq(orders.status, "pending_payment")));
      // Read back what this transaction closed (the rows are ours, locked) for their events.
      const closed = await tx
        .select({ id: orders.id, saleId: orders.saleId, userId: orders.userId, amountCents: orders.amountCents, closedAt: orders.closedAt })
        .from(orders)
        .where(and(inArray(orders.id, ids), eq(orders.status, "closed")));
      await recordOrderEvents(
        tx,
        closed.map((o) => orderEvent("order.closed", o, o.closedAt!)),
      );
      return closed.length;
    });
  }

  /**
   * Returns the stock of every closed order whose release is owed; returns how many it released.
   * Walks all owed rows with a cursor, so orders of a sale Redis cannot serve (it lost the sale;
   * reconcile will settle them) never starve the releases of other sales.
   */
  async function releaseOwed(): Promise<number> {
    let released = 0;
    let after: { closedAt: Date; id: string } | undefined;
    for (;;) {
      const page = await db
        .select({ id: orders.id, saleId: orders.saleId, userId: orders.userId, slot: orders.slot, closedAt: orders.closedAt })
        .from(orders)
        .where(
          and(
            isNull(orders.releasedAt),
            isNotNull(orders.closedAt),
            after ? or(gt(orders.closedAt, after.closedAt), and(eq(orders.closedAt, after.closedAt), gt(orders.id, after.id))) : undefined,
          ),
        )
        .orderBy(asc(orders.closedAt), asc(orders.id))
        .limit(500);
      const out = await returnStock(db, store, page);
      released += out.released;
      if (out.stuck.length) {
        // Redis does not know these sales or slots: it lost data. Reconcile recomputes their stock from MySQL.
        stuckLog((suppressed) =>
          log.error(
            { sales: out.stuck, suppressed },
            "cannot return closed orders' units: Redis lost these sales' state (or they live in another stock home); run reconcile for them",
          ),
        );
      }
      if (page.length < 500) break;
      const last = page[page.length - 1];
      after = { closedAt: last.closedAt!, id: last.id };
    }
    metrics.stockReleased.inc(released);
    return released;
  }

  /** One pass: close everything due, then return what is owed. */
  async function runOnce(): Promise<{ closed: number; released: number }> {
    let closed = 0;
    for (;;) {
      const n = await closeBatch();
      closed += n;
      if (n < batchSize) break;
    }
    metrics.ordersClosed.inc(closed);
    const released = await releaseOwed();
    const [owed] = await db
      .select({ n: count() })
      .from(orders)
      .where(and(isNull(orders.releasedAt), isNotNull(orders.closedAt)));
    metrics.releasesOwed.set(Number(owed.n));
    if (closed > 0) log.info({ closed, released }, "unpaid orders closed and their stock returned");
    return { closed, released };
  }

  return {
    runOnce,
    start() {
      loop = every(intervalMs, runOnce, (err) => log.error({ err }, "expiry pass failed; retrying next interval"));
    },
    async stop() {
      await loop?.stop();
    },
  };
}
