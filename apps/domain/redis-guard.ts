import { once } from "node:events";
import type { Logger } from "../core/logger.js";
import { isCluster, keySlot, nodeKey, type Redis, type RedisServer } from "../core/redis.js";
import type { SaleStore } from "./sale-store.js";

/**
 * Notices when a Redis server that holds sales restarted, lost its data or was replaced by a
 * promoted replica (its run_id changed, or its record of the run_id is gone) and, before any
 * purchase is sent again, blocks the sales with keys on it until reconcile has recomputed their
 * stock from MySQL.
 *
 * Why: with `appendfsync everysec` a restarted Redis may have lost its last second of writes,
 * and a replica promoted after its master died may lack the master's last acknowledged writes
 * (replication is asynchronous): decrements and buyers whose orders already went on to Kafka
 * and MySQL. Selling from that stock could oversell.
 *
 * One server: every restart drops every connection, so each client runs this check on
 * reconnect; until it has, `verified` is false and the API refuses purchases (503).
 *
 * Redis Cluster: each master keeps its own record, under a hash tag on one of its slots, so the
 * record fails over with the data it speaks for: a promoted replica holds the old master's
 * run_id (or, if the replica never had it, nothing), and a master restarted empty holds
 * nothing. Any node connection closing makes `verified` false; the check runs on every
 * reconnect and every `recheckMs`, and only blocks the sales whose slots the changed master
 * serves. A cluster whose topology is still settling (a master down, not yet replaced) fails
 * the check, which keeps purchases refused.
 *
 * A Redis (or shard) that came back empty has no sale keys at all: those sales refuse purchases
 * anyway (not loaded) until reconcile restores them. The admin's preload runs this check before
 * it loads a sale, so active sales with no recorded run_id mean the record itself was lost:
 * that counts as a restart too. `watch` names every connection purchases go through (the
 * reserve pool): any of them losing its connection makes `verified` false until a check ran.
 */
export function createRedisGuard(deps: {
  redis: Redis;
  watch?: Redis[];
  store: SaleStore;
  logger: Logger;
  /** Called with the sales just blocked (the lifecycle worker reconciles them at once). */
  onBlocked?: (sales: string[]) => void;
  /** Cluster only: how often to re-check without a connection event (default 1000 ms). */
  recheckMs?: number;
}) {
  const log = deps.logger.child({ component: "redis-guard" });
  const { store, redis } = deps;
  let verified = false;
  let checking: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  const markerTags = new Map<number, string>();

  async function runId(node: RedisServer): Promise<string> {
    const info = await node.info("server");
    const m = /run_id:([0-9a-f]+)/.exec(info);
    if (!m) throw new Error("INFO server has no run_id");
    return m[1];
  }

  /**
   * A hash tag whose slot is served by `owner` in `slots` (ioredis's slot -> [master, ...]
   * table): the first `guard-<n>` that lands in the shard. The shard's slot range does not change
   * when a replica takes over, so its successor finds the same tag.
   */
  function markerTag(slots: string[][], owner: string): string {
    for (let n = 0; n < 100_000; n++) {
      const tag = `guard-${n}`;
      if (slots[keySlot(`{${tag}}`)]?.[0] === owner) return tag;
    }
    throw new Error(`no slot of the cluster is served by ${owner}`);
  }

  /** Blocks the active sales `affected` picks, then records the servers' new run_ids. */
  async function blockThenRecord(
    shards: { tag?: string; current: string; recorded: string | null; label: string }[],
    affected: (saleId: string) => Promise<boolean>,
  ): Promise<void> {
    const changed = shards.filter((s) => s.recorded !== s.current);
    if (changed.length === 0) return;
    // Block first, then record the new run_id: no client may see the new marker before the sales are blocked.
    const active = await store.activeSales();
    const sales: string[] = [];
    for (const saleId of active) if (await affected(saleId)) sales.push(saleId);
    for (const saleId of sales) await store.block(saleId);
    for (const s of changed) {
      const previous = await store.runIdMarker.swap(s.current, s.tag);
      // Several clients notice the same change; the one that swapped the marker reports it.
      if (previous !== s.current && sales.length > 0) {
        log.error(
          { sales, server: s.label, previousRunId: previous, runId: s.current },
          "Redis restarted, lost data or failed over: the sales with keys on it are blocked until reconcile recomputes their stock (POST /admin/sales/:id/reconcile)",
        );
        deps.onBlocked?.(sales);
      }
    }
  }

  async function checkOne(): Promise<void> {
    if (!isCluster(redis)) {
      const [current, recorded] = await Promise.all([runId(redis), store.runIdMarker.get()]);
      const active = await store.activeSales();
      // A first record with no sale yet is just the first start, not a loss.
      if (recorded === null && active.length === 0) await store.runIdMarker.swap(current);
      else await blockThenRecord([{ current, recorded, label: "redis" }], async () => true);
      return;
    }
    // Before the first slot refresh the client lists its seed nodes as masters: wait for the map.
    if (redis.status !== "ready") await once(redis, "ready", { signal: AbortSignal.timeout(10_000) });
    const slots = redis.slots;
    const owners = new Set(slots.map((s) => s?.[0]));
    const masters = redis.nodes("master").filter((n) => owners.has(nodeKey(n)));
    if (masters.length === 0) throw new Error("no cluster master is connected");
    const shards = await Promise.all(
      masters.map(async (node) => {
        const owner = nodeKey(node);
        let tag = [...markerTags.entries()].find(([slot, t]) => slots[slot]?.[0] === owner && t)?.[1];
        if (!tag) {
          tag = markerTag(slots, owner);
          markerTags.set(keySlot(`{${tag}}`), tag);
        }
        const [current, recorded] = await Promise.all([runId(node), store.runIdMarker.get(tag)]);
        return { tag, current, recorded, label: owner };
      }),
    );
    const changedOwners = new Set(shards.filter((s) => s.recorded !== s.current).map((s) => s.label));
    if (changedOwners.size === 0) return;
    const active = await store.activeSales();
    const firstStart = active.length === 0 && shards.every((s) => s.recorded === null);
    if (firstStart) {
      for (const s of shards) await store.runIdMarker.swap(s.current, s.tag);
      return;
    }
    await blockThenRecord(shards, async (saleId) =>
      (await store.saleSlots(saleId)).some((slot) => changedOwners.has(slots[slot]?.[0] ?? "")),
    );
  }

  async function check(): Promise<void> {
    try {
      await checkOne();
      verified = true;
    } catch (err) {
      verified = false;
      // A master just died: ask the cluster who serves its slots now, for the next attempt.
      if (isCluster(redis)) redis.refreshSlotsCache();
      throw err;
    }
  }

  function recheck() {
    checking ??= check()
      .catch((err) => log.error({ err }, "could not verify Redis after a connection change; purchases stay refused until it can"))
      .finally(() => {
        checking = undefined;
      });
    return checking;
  }

  const watchNode = (node: RedisServer) => {
    node.on("close", () => {
      verified = false;
      void recheck();
    });
    node.on("ready", () => void recheck());
  };
  for (const client of new Set([redis, ...(deps.watch ?? [])])) {
    client.on("close", () => {
      verified = false;
    });
    client.on("ready", () => {
      void recheck();
    });
    if (isCluster(client)) {
      client.on("+node", watchNode);
      for (const node of client.nodes("all")) watchNode(node);
    }
  }
  if (isCluster(redis)) {
    const every = deps.recheckMs ?? 1000;
    timer = setInterval(() => void recheck(), every);
    timer.unref();
  }

  return {
    /** False from a lost connection until the reconnected Redis has been checked. */
    get verified() {
      return verified;
    },
    check: recheck,
    /** Stops the periodic re-check (cluster). */
    stop() {
      if (timer) clearInterval(timer);
    },
  };
}

export type RedisGuard = ReturnType<typeof createRedisGuard>;
