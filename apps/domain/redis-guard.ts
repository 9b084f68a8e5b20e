import type { Logger } from "../core/logger.js";
import type { Redis } from "../core/redis.js";
import type { Reservations } from "./reservations.js";

/**
 * Notices when Redis restarted (its run_id changed) and, before any purchase is sent again,
 * blocks every active sale until reconcile has recomputed its stock from MySQL.
 *
 * Why: with `appendfsync everysec` a restarted Redis may have lost its last second of writes:
 * decrements and buyers whose orders already went on to Kafka and MySQL. Selling from that
 * stock could oversell. Every Redis restart drops every connection, so each client runs this
 * check on reconnect; until it has, `verified` is false and the API refuses purchases (503).
 * A Redis that came back empty has no sale keys at all: those sales refuse purchases anyway
 * (not loaded) until reconcile restores them. The admin's preload runs this check before it
 * loads a sale, so active sales with no recorded run_id mean the record itself was lost: that
 * counts as a restart too. `watch` names every connection purchases go through (the reserve
 * pool): any of them losing its connection makes `verified` false until a check has run.
 */
export function createRedisGuard(deps: { redis: Redis; watch?: Redis[]; reservations: Reservations; logger: Logger }) {
  const log = deps.logger.child({ component: "redis-guard" });
  const marker = `${deps.reservations.global.activeSales}:run-id`;
  let verified = false;
  let checking: Promise<void> | undefined;

  async function runId(): Promise<string> {
    const info = await deps.redis.info("server");
    const m = /run_id:([0-9a-f]+)/.exec(info);
    if (!m) throw new Error("INFO server has no run_id");
    return m[1];
  }

  /** Compares Redis's run_id with the one recorded; on a change blocks every active sale. */
  async function check(): Promise<void> {
    const [current, recorded] = await Promise.all([runId(), deps.redis.get(marker)]);
    if (recorded !== current) {
      // Block first, then record the new run_id: no client may see the new marker before the sales are blocked.
      const sales = await deps.reservations.activeSales();
      if (recorded !== null || sales.length > 0) for (const saleId of sales) await deps.reservations.block(saleId);
      const previous = await deps.redis.set(marker, current, "GET");
      // Several clients notice the same restart; the one that swapped the marker reports it.
      if (previous !== current && sales.length > 0) {
        log.error(
          { sales, previousRunId: previous, runId: current },
          "Redis restarted: every active sale is blocked until reconcile recomputes its stock (POST /admin/sales/:id/reconcile)",
        );
      }
    }
    verified = true;
  }

  function recheck() {
    checking ??= check()
      .catch((err) => log.error({ err }, "could not verify Redis after reconnecting; purchases stay refused"))
      .finally(() => {
        checking = undefined;
      });
    return checking;
  }

  for (const client of new Set([deps.redis, ...(deps.watch ?? [])])) {
    client.on("close", () => {
      verified = false;
    });
    client.on("ready", () => {
      void recheck();
    });
  }

  return {
    /** False from a lost connection until the reconnected Redis has been checked. */
    get verified() {
      return verified;
    },
    check: recheck,
  };
}

export type RedisGuard = ReturnType<typeof createRedisGuard>;
