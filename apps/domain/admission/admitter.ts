import type { Logger } from "../../core/logger.js";
import type { PlatformMetrics } from "../../core/metrics.js";
import { every } from "../../core/periodic.js";
import type { SaleCache } from "../sale-cache.js";
import type { WaitingRoom } from "./waiting-room.js";

/**
 * Runs an admission tick (lua/queue-admit-6.lua) every `tickMs` for every sale with a waiting
 * room. Every API runs one: they share the credit in Redis, so more APIs mean more ticks, not
 * more admissions, and the room keeps admitting while any API is up. A sale leaves the list once
 * it has ended (or is no longer a queue sale).
 */
export function createAdmitter(
  deps: { room: WaitingRoom; saleCache: SaleCache; metrics: PlatformMetrics; logger: Logger },
  opts: { tickMs: number },
) {
  const log = deps.logger.child({ component: "admitter" });
  const { metrics } = deps;
  let loop: { stop(): Promise<void> } | undefined;

  async function tick(): Promise<void> {
    for (const saleId of await deps.room.queuedSales()) {
      const sale = await deps.saleCache.get(saleId);
      if (sale?.admission !== "queue" || Date.now() > sale.endsAt + 60_000) {
        await deps.room.unlist(saleId);
        continue;
      }
      const r = await deps.room.admit(sale, opts.tickMs);
      if (r.admitted.length) metrics.queueAdmitted.inc({ sale: saleId }, r.admitted.length);
      if (r.converted) metrics.queuePlacesClosed.inc({ sale: saleId, outcome: "bought" }, r.converted);
      if (r.lapsed) metrics.queuePlacesClosed.inc({ sale: saleId, outcome: "lapsed" }, r.lapsed);
      metrics.queueWaiting.set({ sale: saleId }, r.waiting);
      metrics.queueHolding.set({ sale: saleId }, r.holding);
      metrics.queueAdmissionRate.set({ sale: saleId }, r.rate);
    }
  }

  return {
    tick,
    start() {
      loop = every(opts.tickMs, tick, (err) =>
        log.warn({ err }, "admission tick failed; the waiting room admits nobody until Redis answers again (other APIs keep trying)"),
      );
    },
    async stop() {
      await loop?.stop();
    },
  };
}

export type Admitter = ReturnType<typeof createAdmitter>;
