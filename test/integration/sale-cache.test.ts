import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSaleCache } from "../../apps/domain/sale-cache.js";
import { randomId } from "../helpers/env.js";
import { startTestPlatform, type TestPlatform } from "../helpers/platform.js";
import { deferred } from "../helpers/wait.js";

let p: TestPlatform;
beforeAll(async () => {
  p = await startTestPlatform();
});
afterAll(() => p.stop());

describe("sale info from the two-level cache", () => {
  it("a crowd of 2,000 readers on a cold cache costs MySQL one query, through the route", async () => {
    const saleId = await p.createSale({ stock: 42 });
    await p.api.ctx.saleCache.invalidate(saleId);
    const before = p.api.ctx.saleCache.dbLoads;
    const responses = await Promise.all(Array.from({ length: 2000 }, () => Promise.resolve(p.gateway.app.request(`/api/sales/${saleId}`))));
    expect(new Set(responses.map((r) => r.status))).toEqual(new Set([200]));
    expect(p.api.ctx.saleCache.dbLoads - before).toBe(1);
    const body = (await responses[0].json()) as Record<string, unknown>;
    expect(body).toMatchObject({ id: saleId, totalStock: 42, remaining: 42, state: "open", priceCents: 1000 });
    expect(Object.keys(body).sort()).toEqual([
      "endsAt",
      "id",
      "priceCents",
      "remaining",
      "serverTime",
      "startsAt",
      "state",
      "title",
      "totalStock",
    ]);
  });

  it("unknown ids are cached too: 1,000 readers of a missing sale cost one query and all get 404", async () => {
    const missing = randomId("nope-");
    const before = p.api.ctx.saleCache.dbLoads;
    const responses = await Promise.all(
      Array.from({ length: 1000 }, () => Promise.resolve(p.gateway.app.request(`/api/sales/${missing}`))),
    );
    expect(new Set(responses.map((r) => r.status))).toEqual(new Set([404]));
    expect(((await responses[0].json()) as { error: { code: string } }).error.code).toBe("sale_not_found");
    expect(p.api.ctx.saleCache.dbLoads - before).toBe(1);
  });

  it("a second process finds the sale in Redis (the shared level) without asking MySQL", async () => {
    const saleId = await p.createSale({ stock: 7 });
    await p.api.ctx.saleCache.get(saleId); // warms both levels
    const other = createSaleCache({ db: p.services.database.db, store: p.api.ctx.store });
    expect((await other.get(saleId))?.totalStock).toBe(7);
    expect(other.dbLoads).toBe(0);
  });

  it("serves the last known sale when a reload fails (its stores away), and fails only without one", async () => {
    let now = 0;
    const saleId = await p.createSale({ stock: 3 });
    let failing = false;
    const shared = p.api.ctx.store.saleInfoCache;
    const refused = async () => Promise.reject(new Error("connection refused"));
    const saleInfoCache = {
      get: (id: string) => (failing ? refused() : shared.get(id)),
      set: (id: string, json: string, ttlMs: number) => (failing ? refused() : shared.set(id, json, ttlMs)),
      del: shared.del,
    };
    const cache = createSaleCache({ db: p.services.database.db, store: { saleInfoCache } }, { localTtlMs: 1000, now: () => now });
    expect((await cache.get(saleId))?.totalStock).toBe(3);
    failing = true;
    now = 10_000;
    expect((await cache.get(saleId))?.totalStock).toBe(3);
    await expect(cache.get(randomId("never-seen-"))).rejects.toThrow(/connection refused/);
  });

  it("forget() drops the copy at once, and a load in flight when it came is not remembered", async () => {
    const saleId = await p.createSale({ stock: 5 });
    const shared = p.api.ctx.store.saleInfoCache;
    let gate: ReturnType<typeof deferred> | undefined;
    const saleInfoCache = {
      get: async (id: string) => {
        const json = await shared.get(id); // read before the change...
        await gate?.promise; // ...answered after it
        return json;
      },
      set: shared.set,
      del: shared.del,
    };
    const cache = createSaleCache({ db: p.services.database.db, store: { saleInfoCache } });
    expect((await cache.get(saleId))?.totalStock).toBe(5);
    cache.forget(saleId);
    expect(cache.peek(saleId)).toBeUndefined();

    gate = deferred();
    const slow = cache.get(saleId);
    await new Promise((r) => setTimeout(r, 20)); // the load has read the shared level
    cache.forget(saleId); // the broadcast arrives while it is in flight
    gate.resolve(undefined);
    expect((await slow)?.totalStock).toBe(5); // its callers get what it read...
    expect(cache.peek(saleId)).toBeUndefined(); // ...but it is not kept: the next get reads again
    gate = undefined;
    expect((await cache.get(saleId))?.totalStock).toBe(5);
    expect(cache.peek(saleId)?.totalStock).toBe(5);
  });

  it("entries expire at jittered times, and the local level is bounded", async () => {
    let now = 0;
    const cache = createSaleCache(
      { db: p.services.database.db, store: p.api.ctx.store },
      { localTtlMs: 1000, maxEntries: 50, now: () => now },
    );
    const ids = await Promise.all(Array.from({ length: 40 }, () => p.createSale({ stock: 1, preload: false })));
    await Promise.all(ids.map((id) => cache.get(id)));
    now = 1000; // the nominal TTL: with ±20 % jitter some entries are still fresh, some are not
    const fresh = ids.filter((id) => cache.peek(id) !== undefined).length;
    expect(fresh).toBeGreaterThan(0);
    expect(fresh).toBeLessThan(40);
    now = 0;
    await Promise.all(Array.from({ length: 100 }, (_, i) => cache.get(`missing-${randomId()}-${i}`)));
    expect(ids.filter((id) => cache.peek(id) !== undefined).length).toBeLessThan(40);
  });
});
