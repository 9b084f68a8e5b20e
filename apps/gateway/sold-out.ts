import type { Logger } from "../core/logger.js";
import { every } from "../core/periodic.js";
import type { Subscriber } from "../core/subscriber.js";
import type { SaleStore } from "../domain/sale-store.js";

/**
 * Which sales are sold out, held in memory so the gateway answers 410 with no Redis or API call.
 * Set by the sold-out broadcast (Redis pub/sub from reserve-6.lua) and by 410 answers from the
 * API; cleared by a restock broadcast; and re-checked every `refreshMs` against the stock in
 * Redis, which also repairs a broadcast missed while the subscriber was reconnecting.
 * `onRestock` hears every restock broadcast, sold-out or not (a closed order frees its buyer).
 * The broadcasts come through `subscriber`, which the owner starts and stops.
 */
export function createSoldOutFlags(
  deps: { subscriber: Subscriber; store: SaleStore; logger: Logger },
  opts: { refreshMs?: number; onRestock?: (saleId: string) => void } = {},
) {
  const refreshMs = opts.refreshMs ?? 2000;
  const soldOut = new Set<string>();
  const log = deps.logger.child({ component: "sold-out" });
  const { soldOut: soldOutChannel, restock: restockChannel } = deps.store.channels;
  let loop: { stop(): Promise<void> } | undefined;

  async function refresh(): Promise<void> {
    for (const saleId of soldOut) {
      const remaining = await deps.store.remaining(saleId);
      if (remaining !== null && remaining > 0) {
        soldOut.delete(saleId);
        log.info({ saleId, remaining }, "stock is back: sale reopened at the gateway");
      }
    }
  }

  function markSoldOut(saleId: string): void {
    if (!soldOut.has(saleId)) log.info({ saleId }, "sale sold out: the gateway now answers 410 itself");
    soldOut.add(saleId);
  }
  deps.subscriber.on(soldOutChannel, markSoldOut);
  deps.subscriber.on(restockChannel, (saleId) => {
    opts.onRestock?.(saleId);
    if (soldOut.delete(saleId)) log.info({ saleId }, "restock: sale reopened at the gateway");
  });

  return {
    isSoldOut: (saleId: string) => soldOut.has(saleId),
    markSoldOut,
    /** Starts the periodic re-check (the broadcasts come once the subscriber starts). */
    start(): void {
      loop = every(refreshMs, refresh, (err) => log.warn({ err }, "sold-out refresh failed; keeping the flags as they are"));
    },
    async stop(): Promise<void> {
      await loop?.stop();
    },
    refresh,
  };
}

export type SoldOutFlags = ReturnType<typeof createSoldOutFlags>;
