import type { Sale } from "../core/db/schema/index.js";
import type { Logger } from "../core/logger.js";
import type { Subscriber } from "../core/subscriber.js";
import { shareChangedSale } from "./sale-cache.js";
import type { SaleStore } from "./sale-store.js";

/**
 * The "sale changed" broadcast: after an admin's change to a sale's settings is committed
 * (MySQL, the sale's settings in Redis, the shared sale-info cache rewritten), the admin publishes
 * the sale id on `<REDIS_KEY_PREFIX>events:sale-changed`; every gateway and API drops its
 * in-process copy of that sale (sale-cache.ts `forget`), so its next request reads the new one.
 *
 * Best effort, on purpose: Redis pub/sub keeps nothing for a subscriber that is away, so a
 * message sent while a subscriber reconnects is lost. The in-process TTL (at most 6 s) remains
 * the bound on staleness then; on reconnect the whole copy is dropped to shorten that window.
 * The purchase path pays nothing for it: the subscriber only deletes map entries.
 */

/**
 * Publishes the change. Never throws: the change is committed already, and a failed broadcast
 * only means the caches follow by their TTL; a warning names the sale.
 */
export async function announceSaleChanged(deps: { store: Pick<SaleStore, "announceSaleChanged">; logger: Logger }, saleId: string) {
  try {
    await deps.store.announceSaleChanged(saleId);
  } catch (err) {
    deps.logger.warn(
      { err, saleId },
      "sale-changed broadcast failed (Redis unreachable): the sale's change is saved, and gateways' in-memory copies follow within 6 s instead of at once",
    );
  }
}

/**
 * Everything a committed admin change to a sale (MySQL, and Redis's settings when loaded) owes
 * the caches, in order: the sale written over the shared level (sale-cache.ts shareChangedSale:
 * a reload in flight cannot put the old one back), then the broadcast, so a gateway that hears
 * it reads the new sale.
 */
export async function saleChanged(deps: { store: Pick<SaleStore, "announceSaleChanged" | "saleInfoCache">; logger: Logger }, sale: Sale) {
  await shareChangedSale(deps.store, sale);
  await announceSaleChanged(deps, sale.id);
}

/**
 * Drops this process's copy of a sale when its change is broadcast, and every copy after the
 * subscriber reconnected (broadcasts may have been missed). Registers on `subscriber`, which
 * its owner starts and stops with the process's other broadcasts (core/subscriber.ts).
 */
export function watchSaleChanges(deps: {
  subscriber: Subscriber;
  store: Pick<SaleStore, "channels">;
  onChange: (saleId: string) => void;
  onReconnect?: () => void;
}): void {
  deps.subscriber.on(deps.store.channels.saleChanged, deps.onChange);
  if (deps.onReconnect) deps.subscriber.onReconnect(deps.onReconnect);
}
