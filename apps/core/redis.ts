import { readdirSync, readFileSync } from "node:fs";
import { Redis, type RedisOptions } from "ioredis";
import type { Logger } from "./logger.js";
import { fromRoot } from "./paths.js";

export type { Redis };

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
    if (!(s.command in redis)) redis.defineCommand(s.command, { numberOfKeys: s.numberOfKeys, lua: s.lua });
  }
  return redis;
}

/**
 * A Redis client with the project's scripts registered. Commands issued in the same tick are
 * pipelined automatically (one write per tick instead of one per request on the hot path).
 * While Redis is unreachable, commands fail fast instead of queueing without bound, so callers
 * can fail closed and answer quickly.
 */
export function createRedis(url: string, logger: Logger, opts: RedisOptions = {}): Redis {
  const redis = new Redis(url, {
    enableAutoPipelining: true,
    maxRetriesPerRequest: 2,
    enableOfflineQueue: true,
    connectTimeout: 2000,
    retryStrategy: (times) => Math.min(times * 100, 2000),
    ...opts,
  });
  let wasDown = false;
  redis.on("error", (err) => {
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
    const client = registerScripts(main.duplicate());
    client.on("error", () => {});
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
  let cursor = "0";
  let n = 0;
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 5000);
    cursor = next;
    if (keys.length) n += await redis.del(...keys);
  } while (cursor !== "0");
  return n;
}

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "<unparseable url>";
  }
}
