import { count, eq } from "drizzle-orm";
import { orders, type Sale, sales } from "../core/db/schema/index.js";
import { DEFAULT_HANDOFF_GRACE_MS } from "../domain/sale-store.js";
import { recordedHome } from "../domain/stock-home.js";
import type { AdminContext } from "./context.js";

/** A sale row, or null. */
export async function findSale(ctx: AdminContext, id: string): Promise<Sale | null> {
  const [sale] = await ctx.services.database.db.select().from(sales).where(eq(sales.id, id)).limit(1);
  return sale ?? null;
}

/** Where a sale's stock and orders are, across Redis, Kafka and MySQL (GET /admin/sales/:id/stats). */
export async function saleStats(ctx: AdminContext, sale: Sale) {
  const { id } = sale;
  const { db } = ctx.services.database;
  const [remaining, accepted, pendingHandoff, oldestDue, byStatus, writerLag, blocked, buckets] = await Promise.all([
    ctx.store.remaining(id),
    ctx.store.accepted(id),
    ctx.store.pendingHandoffs(id),
    ctx.store.earliestHandoffDue(id),
    db.select({ status: orders.status, n: count() }).from(orders).where(eq(orders.saleId, id)).groupBy(orders.status),
    ctx.reconciler.writerLag(),
    ctx.store.isBlocked(id),
    ctx.store.bucketStats(id),
  ]);
  // A handoff record is due `grace` after its order was accepted; its age says how long Kafka has not had it.
  const oldestPendingHandoffMs = oldestDue === null ? 0 : Math.max(0, Date.now() - oldestDue + DEFAULT_HANDOFF_GRACE_MS);
  const status = Object.fromEntries(byStatus.map((r) => [r.status, Number(r.n)]));
  const persisted = byStatus.reduce((sum, r) => sum + Number(r.n), 0);
  return {
    id,
    totalStock: sale.totalStock,
    loaded: remaining !== null,
    remaining: remaining ?? sale.totalStock,
    accepted: accepted,
    persisted,
    pendingPayment: status.pending_payment ?? 0,
    paid: status.paid ?? 0,
    closed: status.closed ?? 0,
    refundRequired: status.refund_required ?? 0,
    pendingHandoff,
    oldestPendingHandoffMs,
    /** Messages on seckill.orders the writer has not persisted yet (all sales); null when Kafka does not answer. */
    writerLag,
    /** True while the sale waits for reconcile (Redis restarted or lost data). */
    blocked,
    /** Accepted in Redis but not yet a MySQL row (in Kafka or waiting for the writer). */
    inTransit: Math.max(0, accepted - persisted),
    /** Where the sale's stock lives ({redis, prefix}; null before its first preload): only that home sells it. */
    stockHome: recordedHome(sale),
    admission: await admissionStats(ctx, sale, accepted),
    stockBuckets: sale.stockBuckets,
    /** Each stock bucket's units left and orders accepted (remaining above also counts units moving between buckets). */
    buckets,
  };
}

/**
 * How buyers got in, for the dashboard. Queue: people waiting, admitted places held, the measured
 * admission rate and inlet, and conversion = admitted places that ended in a purchase / places
 * that ended (bought or lapsed). Pass: passes issued and purchases per pass.
 */
async function admissionStats(ctx: AdminContext, sale: Sale, accepted: number) {
  if (sale.admission === "open") return { mode: "open" as const };
  const q = await ctx.room.counters(sale.id);
  if (sale.admission === "pass") {
    return {
      mode: "pass" as const,
      powDifficultyBits: sale.powDifficultyBits,
      passesIssued: q.passesIssued,
      conversion: q.passesIssued ? accepted / q.passesIssued : null,
    };
  }
  const closed = q.converted + q.lapsed;
  return {
    mode: "queue" as const,
    queueLength: q.waiting,
    holding: q.holding,
    joined: q.joined,
    admitted: q.admittedTotal,
    bought: q.converted,
    lapsed: q.lapsed,
    conversion: closed ? q.converted / closed : null,
    admissionRatePerSecond: Math.round(q.rate * 100) / 100,
    inletPerSecond: q.inlet ?? sale.inletPerSecond,
    admissionWindowSeconds: sale.admissionWindowSeconds,
  };
}
