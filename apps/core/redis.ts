import { readdirSync, readFileSync } from "node:fs";
import { Cluster, type ClusterOptions, type RedisOptions, Redis as RedisServer } from "ioredis";
import type { Logger } from "./logger.js";
import { fromRoot } from "./paths.js";

/** A client of one Redis server or of a Redis Cluster: every command the platform sends works on both. */
export type Redis = RedisServer | Cluster;
/** A connection to one server (a cluster's node, or the single server). */
export type { RedisServer };

const LUA_DIR = fromRoot("lua/");

export interface LuaScript {
  /** Command name on the client, e.g. `seckill_reserve` for lua/reserve-3.lua. */
  command: string;
  numberOfKeys: number;
  lua: string;
}

/**
 * Reads lua/*.lua. A file is named `<what>-<number of keys>.lua`; it becomes the client command
 * `seckill_<what>` (prefixed so it cannot clash with rate-limiter-flexible's own commands).
 */
export function loadLuaScripts(dir = LUA_DIR): LuaScript[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".lua"))
    .sort()
    .map((file) => {
      const m = /^([a-z][a-z0-9-]*)-(\d+)\.lua$/.exec(file);
      if (!m) throw new Error(`lua/${file}: name must be <what>-<number of keys>.lua`);
      return { command: `seckill_${m[1].replaceAll("-", "_")}`, numberOfKeys: Number(m[2]), lua: readFileSync(`${dir}${file}`, "utf8") };
    });
}

let cachedScripts: LuaScript[] | undefined;

/** Registers every project script once on the client (EVALSHA with an EVAL fallback, via defineCommand). */
export function registerScripts(redis: Redis): Redis {
  cachedScripts ??= loadLuaScripts();
  for (const s of cachedScripts) {
    if (!(s.command in redis)) (redis as RedisServer).defineCommand(s.command, { numberOfKeys: s.numberOfKeys, lua: s.lua });
  }
  return redis;
}

/** Where Redis is: REDIS_CLUSTER_NODES (a cluster's seed nodes) when set, else REDIS_URL. */
export function redisTarget(config: { REDIS_URL?: string; REDIS_CLUSTER_NODES?: string }): string | undefined {
  return config.REDIS_CLUSTER_NODES ?? config.REDIS_URL;
}

/** A target is a `redis://` URL (one server) or `host:port[,host:port...]` (a cluster's seed nodes). */
export function isClusterTarget(target: string): boolean {
  return !/^rediss?:\/\//.test(target);
}

export function isCluster(redis: Redis): redis is Cluster {
  return (redis as Cluster).isCluster === true;
}

/** The servers holding data: a cluster's current masters, or the one server. */
export function masters(redis: Redis): RedisServer[] {
  return isCluster(redis) ? redis.nodes("master") : [redis];
}

/** Redis Cluster's hash slot of a key (CRC16 of the key, or of its `{hash tag}`, mod 16384). */
export { default as keySlot } from "cluster-key-slot";

import keySlotOf from "cluster-key-slot";

/** `host:port` of a cluster node's connection, as ioredis names it in `cluster.slots`. */
export function nodeKey(node: RedisServer): string {
  return `${node.options.host}:${node.options.port}`;
}

/**
 * One hash tag per current master of a cluster (none for one server): the first `shard-<n>`
 * whose slot that master serves, in slot order. A master's slot range does not change when its
 * replica takes over, so the successor gets the same tag: a key under it lives and fails over
 * with that shard's data.
 */
export function shardTags(redis: Redis): string[] {
  if (!isCluster(redis)) return [];
  const owners = new Map<string, string>();
  const wanted = new Set(redis.slots.map((s) => s?.[0]).filter(Boolean));
  for (let n = 0; owners.size < wanted.size && n < 1_000_000; n++) {
    const tag = `shard-${n}`;
    const owner = redis.slots[keySlotOf(`{${tag}}`)]?.[0];
    if (owner && !owners.has(owner)) owners.set(owner, tag);
  }
  return [...owners.values()].sort((a, b) => keySlotOf(`{${a}}`) - keySlotOf(`{${b}}`));
}

/** A second client to the same Redis, with the same options (a subscriber, a pool member). */
export function duplicateClient(redis: Redis): Redis {
  const client = isCluster(redis) ? redis.duplicate() : redis.duplicate();
  // The original's error log speaks for this one too (they lose the same servers together).
  client.on("error", () => {});
  return client;
}

const SERVER_OPTIONS: RedisOptions = {
  maxRetriesPerRequest: 2,
  enableOfflineQueue: true,
  connectTimeout: 2000,
  retryStrategy: (times) => Math.min(times * 100, 2000),
};

/**
 * A Redis client with the project's scripts registered: one server for a `redis://` target, a
 * Redis Cluster client for seed nodes. Commands issued in the same tick are pipelined
 * automatically (one write per tick instead of one per request on the hot path). While Redis
 * is unreachable, commands fail fast instead of queueing without bound, so callers can fail
 * closed and answer quickly. On a cluster, commands are routed by their keys' slot, and a
 * master that fails over is followed (MOVED, slot refresh) without the caller's help.
 */
export function createRedis(target: string, logger: Logger, opts: RedisOptions = {}): Redis {
  const url = isClusterTarget(target) ? `cluster ${target}` : target;
  const redis: Redis = isClusterTarget(target)
    ? new Cluster(
        target.split(",").map((hp) => {
          const i = hp.lastIndexOf(":");
          return { host: hp.slice(0, i), port: Number(hp.slice(i + 1)) };
        }),
        {
          enableAutoPipelining: true,
          enableOfflineQueue: true,
          clusterRetryStrategy: (times) => Math.min(times * 100, 2000),
          // A failover takes the cluster's node timeout plus an election: retry briefly, then fail closed.
          retryDelayOnFailover: 200,
          retryDelayOnClusterDown: 300,
          retryDelayOnTryAgain: 100,
          slotsRefreshTimeout: 2000,
          redisOptions: { ...SERVER_OPTIONS, ...opts },
        } satisfies ClusterOptions,
      )
    : new RedisServer(target, { enableAutoPipelining: true, ...SERVER_OPTIONS, ...opts });
  let wasDown = false;
  redis.on("error", (err: Error) => {
    if (!wasDown) logger.error({ err, url: redactUrl(url) }, "redis connection error; purchases fail closed until it is back");
    wasDown = true;
  });
  redis.on("ready", () => {
    if (wasDown) logger.warn({ url: redactUrl(url) }, "redis connection restored");
    wasDown = false;
  });
  return registerScripts(redis);
}

/**
 * `size` clients for one hot script: `main` plus `size - 1` duplicates of it (same server and
 * options, auto-pipelined, scripts registered). close() quits the duplicates; main belongs to
 * its creator, whose error log also speaks for them (they lose the server together).
 */
export function createRedisPool(main: Redis, size: number): { clients: Redis[]; close(): Promise<void> } {
  const extra = Array.from({ length: Math.max(0, size - 1) }, () => {
    const client = registerScripts(duplicateClient(main));
    return client;
  });
  return {
    clients: [main, ...extra],
    async close() {
      await Promise.allSettled(extra.map((c) => c.quit()));
    },
  };
}

/** Deletes every key under `prefix` (SCAN, never KEYS): how tests and benches remove what they created. */
export async function deleteByPrefix(redis: Redis, prefix: string): Promise<number> {
  let n = 0;
  for (const node of masters(redis)) {
    let cursor = "0";
    do {
      const [next, keys] = await node.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 5000);
      cursor = next;
      // One key per command: on a cluster node, a multi-key DEL across slots is refused.
      if (keys.length) {
        const replies = await keys.reduce((p, k) => p.unlink(k), node.pipeline()).exec();
        n += (replies ?? []).reduce((s, [, v]) => s + Number(v ?? 0), 0);
      }
    } while (cursor !== "0");
  }
  return n;
}

export function redactUrl(url: string): string {
  if (isClusterTarget(url.replace(/^cluster /, ""))) return url;
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "<unparseable url>";
  }
}
