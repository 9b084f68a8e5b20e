import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { newOrderId } from "../../apps/core/ids.js";
import { createLogger } from "../../apps/core/logger.js";
import { createRedisPool, type Redis } from "../../apps/core/redis.js";
import { createRedisGuard } from "../../apps/domain/redis-guard.js";
import { createSaleStore } from "../../apps/domain/sale-store.js";
import { testRedis, watchRedis } from "../helpers/redis.js";
import { openSale } from "../helpers/sales.js";
import { eventually } from "../helpers/wait.js";

let redis: Redis;
let prefix: string;
let cleanup: () => Promise<void>;
let pool: ReturnType<typeof createRedisPool>;
beforeEach(() => {
  const t = testRedis();
  redis = t.redis;
  prefix = t.prefix;
  cleanup = t.cleanup;
  pool = createRedisPool(redis, 2);
});
afterEach(async () => {
  await pool.close();
  await cleanup();
});

describe("the reserve pool (REDIS_RESERVE_CONNECTIONS)", () => {
  it("spreads reserve calls over its connections in turn, and sells exactly the stock across them", async () => {
    const r = createSaleStore(redis, prefix, { reserveVia: pool.clients });
    await r.preload("s1", openSale({ totalStock: 50 }), true);
    const watch = await watchRedis(prefix);
    for (let i = 0; i < 4; i++) await r.reserve("s1", `u${i}`, newOrderId());
    const seen = await watch.stop();
    // MONITOR names each command's client ("[0 127.0.0.1:port]"); the script's own calls say "[0 lua]".
    const sources = seen.filter((l) => /\] "eval(sha)?" /i.test(l)).map((l) => /\[\d+ ([^\]]+)\]/.exec(l)?.[1]);
    expect(sources).toHaveLength(4);
    expect(new Set(sources).size).toBe(2);
    expect(sources[0]).not.toBe(sources[1]);

    // 300 concurrent buyers over both connections for the 46 units left.
    const outcomes = await Promise.all(Array.from({ length: 300 }, (_, i) => r.reserve("s1", `crowd-${i}`, newOrderId())));
    expect(outcomes.filter((o) => o.kind === "reserved")).toHaveLength(46);
    expect(outcomes.filter((o) => o.kind === "sold_out")).toHaveLength(254);
    expect(await redis.get(r.keys("s1").stock)).toBe("0");
  });

  it("the Redis guard refuses purchases from the moment any pool connection drops until it has checked again", async () => {
    const r = createSaleStore(redis, prefix, { reserveVia: pool.clients });
    const guard = createRedisGuard({ redis, watch: pool.clients, store: r, logger: createLogger({ level: "silent" }) });
    await guard.check();
    expect(guard.verified).toBe(true);

    const extra = pool.clients[1];
    const unverifiedAtClose = new Promise<boolean>((resolve) => extra.once("close", () => resolve(guard.verified)));
    await redis.client("KILL", "ID", String(await extra.client("ID")));
    expect(await unverifiedAtClose).toBe(false);
    await eventually("the guard checked again after the reconnect", () => extra.status === "ready" && guard.verified, 10_000);
  });
});
