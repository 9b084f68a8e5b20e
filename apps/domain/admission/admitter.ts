import type { Logger } from "../../core/logger.js";
import type { PlatformMetrics } from "../../core/metrics.js";
import { every } from "../../core/periodic.js";
import type { SaleCache } from "../sale-cache.js";
import type { SaleStore } from "../sale-store.js";
import type { SplitStockRead, WaitingRoom } from "./waiting-room.js";

/**
 * Runs an admission tick (lua/queue-admit-6.lua) every `tickMs` for every sale with a waiting
 * room. Every API runs one: they share the credit in Redis, so more APIs mean more ticks, not
 * more admissions, and the room keeps admitting while any API is up. A sale leaves the list once
 * it has ended (or is no longer a queue sale).
 *
 * A split sale (stockBuckets > 1): each tick first reads the total remaining over its buckets
 * (`stock.unsold`, one HMGET per bucket, off the crowd's path) and hands it to the admit script,
 * which also keeps it in the room's slot for the status and join scripts.
 */
export function createAdmitter(
  deps: {
    room: WaitingRoom;
    saleCache: SaleCache;
    stock: Pick<SaleStore, "unsold">;
    metrics: PlatformMetrics;
    logger: Logger;
  },
  opts: { tickMs: number },
) {
  const log = deps.logger.child({ component: "admitter" });
  const { metrics } = deps;
  let loop: { stop(): Promise<void> } | undefined;

  /**
   * Each sale on its own: a sale whose tick fails (its room's slot or, for a split sale, any of
   * its buckets on a Redis master that is away) does not hold back the rooms of the others. The
   * failures are thrown together at the end, naming the sales, for the loop's log.
   */
  async function tick(): Promise<void> {
    const failed: { saleId: string; err: unknown }[] = [];
    for (const saleId of await deps.room.queuedSales()) {
      try {
        await tickSale(saleId);
      } catch (err) {
        failed.push({ saleId, err });
      }
    }
    if (failed.length) {
      throw new Error(`admission tick failed for sale(s) ${failed.map((f) => f.saleId).join(", ")}: ${String(failed[0].err)}`, {
        cause: failed[0].err,
      });
    }
  }

  async function tickSale(saleId: string): Promise<void> {
    const sale = await deps.saleCache.get(saleId);
    if (sale?.admission !== "queue" || Date.now() > sale.endsAt + 60_000) {
      await deps.room.unlist(saleId);
      return;
    }
    let read: SplitStockRead | undefined;
    if ((sale.stockBuckets ?? 1) > 1) {
      // In this order: the sequence and conversions first, then the buckets (see queue-admit-6.lua).
      const started = await deps.room.beginStockRead(saleId);
      read = { ...started, total: await deps.stock.unsold(saleId) };
    }
    const r = await deps.room.admit(sale, opts.tickMs, undefined, read);
    if (r.admitted.length) metrics.queueAdmitted.inc({ sale: saleId }, r.admitted.length);
    if (r.converted) metrics.queuePlacesClosed.inc({ sale: saleId, outcome: "bought" }, r.converted);
    if (r.lapsed) metrics.queuePlacesClosed.inc({ sale: saleId, outcome: "lapsed" }, r.lapsed);
    metrics.queueWaiting.set({ sale: saleId }, r.waiting);
    metrics.queueHolding.set({ sale: saleId }, r.holding);
    metrics.queueAdmissionRate.set({ sale: saleId }, r.rate);
  }

  return {
    tick,
    start() {
      loop = every(opts.tickMs, tick, (err) =>
        log.warn(
          { err },
          "admission tick failed; the named sales' waiting rooms admit nobody until Redis answers again (the other sales' rooms go on; other APIs keep trying)",
        ),
      );
    },
    async stop() {
      await loop?.stop();
    },
  };
}

export type Admitter = ReturnType<typeof createAdmitter>;
