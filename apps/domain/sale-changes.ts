import type { Logger } from "../core/logger.js";
import { duplicateClient, type Redis } from "../core/redis.js";
import type { SaleStore } from "./sale-store.js";

/**
 * The "sale changed" broadcast: after an admin's change to a sale's settings is committed
 * (MySQL, the sale's settings in Redis, the shared sale-info cache rewritten or deleted), the admin publishes
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
 * Listens for the broadcast on a connection of its own (a subscribed connection can send nothing
 * else), duplicated from `redis` at start(): one Redis server or a Redis Cluster (ioredis moves a
 * cluster's subscription to another node when its node goes away). ioredis resubscribes after a
 * reconnect; `onReconnect` is called then (not at the first connect), since messages may have
 * been missed meanwhile.
 */
export function watchSaleChanges(deps: {
  redis: Redis;
  store: Pick<SaleStore, "channels">;
  logger: Logger;
  onChange: (saleId: string) => void;
  onReconnect?: () => void;
}) {
  const channel = deps.store.channels.saleChanged;
  const log = deps.logger.child({ component: "sale-changes" });
  let subscriber: Redis | undefined;
  return {
    async start(): Promise<void> {
      if (subscriber) return;
      const sub = duplicateClient(deps.redis);
      subscriber = sub;
      sub.on("message", (from: string, saleId: string) => {
        if (from !== channel) return;
        deps.onChange(saleId);
        log.debug({ saleId }, "sale changed: in-memory copy dropped");
      });
      let connectedBefore = false;
      sub.on("ready", () => {
        if (connectedBefore) {
          deps.onReconnect?.();
          log.info("sale-changed subscriber reconnected: in-memory sale copies dropped (broadcasts may have been missed)");
        }
        connectedBefore = true;
      });
      await sub.subscribe(channel);
    },
    stop(): void {
      subscriber?.disconnect();
      subscriber = undefined;
    },
  };
}

export type SaleChangeWatcher = ReturnType<typeof watchSaleChanges>;
