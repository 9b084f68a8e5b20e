import { inArray, sql } from "drizzle-orm";
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
  if (events.length === 0) return { applied: [], duplicates: 0, stale: 0, gaps: 0 };
  return db.transaction(
    async (tx) => {
      const out: ApplyOutcome = { applied: [], duplicates: 0, stale: 0, gaps: 0 };
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
      const fresh = events.filter((e) => {
        if (seen.has(e.eventId)) {
          out.duplicates++;
          return false;
        }
        seen.add(e.eventId);
        return true;
      });
      if (fresh.length === 0) return out;
      // The ledger rows of these orders, locked: the batch is decided in memory, then written in three statements.
      const held = new Map(
        (
          await tx
            .select()
            .from(loyaltyOrders)
            .where(inArray(loyaltyOrders.orderId, [...new Set(fresh.map((e) => e.orderId))]))
            .for("update")
        ).map((r) => [r.orderId, r]),
      );
      const changed = new Map<string, typeof loyaltyOrders.$inferInsert>();
      const deltas = new Map<string, number>();
      const processed: (typeof loyaltyProcessedEvents.$inferInsert)[] = [];
      for (const e of fresh) {
        const cur = held.get(e.orderId);
        let outcome: "applied" | "stale" = "applied";
        if (cur && e.version <= cur.version) {
          outcome = "stale";
          out.stale++;
        } else {
          if (e.version !== (cur?.version ?? 0) + 1) out.gaps++;
          const status = STATUS_AFTER[e.type];
          const row = {
            orderId: e.orderId,
            saleId: e.saleId,
            userId: e.userId,
            status,
            version: e.version,
            amountCents: e.amountCents,
            points: pointsFor(status, e.amountCents),
            updatedAt: now,
          };
          deltas.set(e.userId, (deltas.get(e.userId) ?? 0) + row.points - (cur?.points ?? 0));
          held.set(e.orderId, row);
          changed.set(e.orderId, row);
          out.applied.push(e);
        }
        processed.push({ eventId: e.eventId, orderId: e.orderId, version: e.version, outcome, processedAt: now });
      }
      if (changed.size) {
        const fromInsert = (c: { name: string }) => sql.raw(`VALUES(\`${c.name}\`)`);
        await tx
          .insert(loyaltyOrders)
          .values([...changed.values()])
          .onDuplicateKeyUpdate({
            set: {
              status: fromInsert(loyaltyOrders.status),
              version: fromInsert(loyaltyOrders.version),
              amountCents: fromInsert(loyaltyOrders.amountCents),
              points: fromInsert(loyaltyOrders.points),
              updatedAt: fromInsert(loyaltyOrders.updatedAt),
            },
          });
      }
      const moved = [...deltas].filter(([, d]) => d !== 0);
      if (moved.length)
        await tx
          .insert(loyaltyBalances)
          .values(moved.map(([userId, points]) => ({ userId, points })))
          .onDuplicateKeyUpdate({ set: { points: sql`${loyaltyBalances.points} + VALUES(${sql.raw("`points`")})` } });
      await tx.insert(loyaltyProcessedEvents).values(processed);
      return out;
    },
    { isolationLevel: "read committed" },
  );
}
