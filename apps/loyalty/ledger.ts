import { eq, inArray, sql } from "drizzle-orm";
import type { Db } from "../core/db/client.js";
import { type OrderEvent, STATUS_AFTER } from "../domain/order-events.js";
import { loyaltyBalances, loyaltyOrders, loyaltyProcessedEvents } from "./db/schema.js";

/** Points an order in this status earns: one per whole currency unit of a paid order, none otherwise. */
export function pointsFor(status: string, amountCents: number): number {
  return status === "paid" ? Math.floor(amountCents / 100) : 0;
}

export interface ApplyOutcome {
  /** Events that changed the ledger, in the order applied. */
  applied: OrderEvent[];
  /** Event ids already processed (a redelivery or a replay): skipped. */
  duplicates: number;
  /** Events older than the version the ledger holds for their order: recorded, not applied. */
  stale: number;
  /** Applied events whose version skipped one (an earlier event was pruned before a replay, or never consumed). */
  gaps: number;
}

/**
 * Applies events to the ledger in one transaction, exactly once each: an event id already in
 * `loyalty_processed_events` is skipped, every other is recorded there in the same transaction
 * as its effect. Per order only a newer version than the ledger's changes it, so a replay or a
 * late duplicate never moves an order back. Each event carries the order's whole state after the
 * change, so a version the ledger skipped (a gap) loses nothing: the newer state is applied.
 *
 * READ COMMITTED: a locking read of an order the ledger does not know yet takes no gap lock, so
 * consumers of different partitions never deadlock on neighbouring ids.
 */
export async function applyOrderEvents(db: Db, events: OrderEvent[], now = new Date()): Promise<ApplyOutcome> {
  const out: ApplyOutcome = { applied: [], duplicates: 0, stale: 0, gaps: 0 };
  if (events.length === 0) return out;
  await db.transaction(
    async (tx) => {
      const seen = new Set(
        (
          await tx
            .select({ id: loyaltyProcessedEvents.eventId })
            .from(loyaltyProcessedEvents)
            .where(
              inArray(
                loyaltyProcessedEvents.eventId,
                events.map((e) => e.eventId),
              ),
            )
        ).map((r) => r.id),
      );
      for (const e of events) {
        if (seen.has(e.eventId)) {
          out.duplicates++;
          continue;
        }
        seen.add(e.eventId);
        const [cur] = await tx.select().from(loyaltyOrders).where(eq(loyaltyOrders.orderId, e.orderId)).for("update");
        let outcome: "applied" | "stale" = "applied";
        if (cur && e.version <= cur.version) {
          outcome = "stale";
          out.stale++;
        } else {
          if (e.version !== (cur?.version ?? 0) + 1) out.gaps++;
          const status = STATUS_AFTER[e.type];
          const points = pointsFor(status, e.amountCents);
          const row = {
            orderId: e.orderId,
            saleId: e.saleId,
            userId: e.userId,
            status,
            version: e.version,
            amountCents: e.amountCents,
            points,
            updatedAt: now,
          };
          if (cur) await tx.update(loyaltyOrders).set(row).where(eq(loyaltyOrders.orderId, e.orderId));
          else await tx.insert(loyaltyOrders).values(row);
          const delta = points - (cur?.points ?? 0);
          if (delta !== 0)
            await tx
              .insert(loyaltyBalances)
              .values({ userId: e.userId, points: delta })
              .onDuplicateKeyUpdate({ set: { points: sql`${loyaltyBalances.points} + ${delta}` } });
          out.applied.push(e);
        }
        await tx
          .insert(loyaltyProcessedEvents)
          .values({ eventId: e.eventId, orderId: e.orderId, version: e.version, outcome, processedAt: now });
      }
    },
    { isolationLevel: "read committed" },
  );
  return out;
}
