import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sales } from "../../apps/core/db/schema/index.js";
import { ownDatabase } from "../helpers/env.js";
import { startTestPlatform, type TestPlatform } from "../helpers/platform.js";
import { openSale } from "../helpers/sales.js";
import { eventually } from "../helpers/wait.js";

/**
 * Two platforms (each its own REDIS_KEY_PREFIX, Kafka topics and workers) sharing one MySQL
 * database: every sale's stock has one home, the platform that preloaded it.
 */
let db: Awaited<ReturnType<typeof ownDatabase>>;
let a: TestPlatform;
let b: TestPlatform;
beforeAll(async () => {
  db = await ownDatabase();
  [a, b] = await Promise.all(
    [0, 1].map(() => startTestPlatform({ writer: { maxRowsPerSec: 50_000 }, lifecycle: true, databaseUrl: db.url })),
  );
});
afterAll(async () => {
  await a?.stop();
  await b?.stop();
  await db?.drop();
});

const admin = (p: TestPlatform, method: string, path: string, body?: unknown) =>
  Promise.resolve(
    p.gateway.app.request(path, {
      method,
      headers: { authorization: `Bearer ${p.services.config.ADMIN_TOKEN}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    }),
  );
// biome-ignore lint/suspicious/noExplicitAny: the tests read JSON replies field by field
const body = async (res: Response) => (await res.json()) as Record<string, any>;
/** Keys of the sale under the platform's own prefix. */
const keysOf = (p: TestPlatform, saleId: string) => p.services.redis.keys(`${p.services.config.REDIS_KEY_PREFIX}{sale:${saleId}}*`);

describe("every sale's stock has one home", () => {
  it("neither platform preloads, rebuilds, reopens or sells the other's sale", async () => {
    const saleA = await a.createSale({ stock: 3 });
    const saleB = await b.createSale({ stock: 3 });
    expect((await a.buy(saleA, await a.token("home-buyer-1"))).status).toBe(202);
    await eventually("A's order stored", async () => (await a.rows(saleA)) === 1, 30_000);

    for (const [p, other, foreign] of [
      [b, a, saleA],
      [a, b, saleB],
    ] as const) {
      const pre = await admin(p, "POST", `/admin/sales/${foreign}/preload?force=true`);
      expect(pre.status).toBe(409);
      const err = (await body(pre)).error;
      expect(err.code).toBe("stock_home_mismatch");
      expect(err.stockHome.prefix).toBe(other.services.config.REDIS_KEY_PREFIX);
      expect(err.thisInstance.prefix).toBe(p.services.config.REDIS_KEY_PREFIX);

      const rec = await body(await admin(p, "POST", `/admin/sales/${foreign}/reconcile`));
      expect(rec).toMatchObject({ state: "elsewhere", reopened: false, repairs: [] });
      expect(rec.stockHome.prefix).toBe(other.services.config.REDIS_KEY_PREFIX);
      // The periodic job (its first pass compares every sale in full) leaves it alone too.
      await p.lifecycle!.reconcileAll();
      expect(await keysOf(p, foreign)).toEqual([]);
      expect((await p.buy(foreign, await p.token("wrong-home-buyer"))).status).not.toBe(202);
    }
    // At home, each sale is untouched: 2 left of A's, 3 of B's.
    expect((await body(await admin(a, "POST", `/admin/sales/${saleA}/reconcile`))).redis.remaining).toBe(2);
    expect((await body(await admin(b, "POST", `/admin/sales/${saleB}/reconcile`))).redis.remaining).toBe(3);
    expect((await a.stats(saleA)).remaining).toBe(2);
    expect((await b.stats(saleA)).stockHome).toMatchObject({ prefix: a.services.config.REDIS_KEY_PREFIX });
  });

  it("moving a sale's home first proves the old home holds no stock, then the new home rebuilds it and the old one never sells it", async () => {
    const saleId = await a.createSale({ stock: 2 });
    expect((await a.buy(saleId, await a.token("mover-1"))).status).toBe(202);
    const refused = await admin(b, "POST", `/admin/sales/${saleId}/move-stock-home`);
    expect(refused.status).toBe(409);
    expect((await body(refused)).error).toMatchObject({ code: "stock_home_not_empty", remaining: 1 });

    // Sold out at A and every order stored: A's home holds no stock any more.
    expect((await a.buy(saleId, await a.token("mover-2"))).status).toBe(202);
    await eventually(
      "rows stored, handoffs drained",
      async () => (await a.rows(saleId)) === 2 && (await a.stats(saleId)).pendingHandoff === 0,
      30_000,
    );
    const moved = await admin(b, "POST", `/admin/sales/${saleId}/move-stock-home`);
    expect(moved.status).toBe(200);
    expect(await body(moved)).toMatchObject({ moved: true, to: { prefix: b.services.config.REDIS_KEY_PREFIX } });
    expect(await keysOf(a, saleId)).toEqual([]);

    const rebuilt = await body(await admin(b, "POST", `/admin/sales/${saleId}/reconcile`));
    expect(rebuilt).toMatchObject({ state: "recomputed", redis: { remaining: 0 } });
    expect((await admin(a, "POST", `/admin/sales/${saleId}/preload?force=true`)).status).toBe(409);
    expect((await body(await admin(a, "POST", `/admin/sales/${saleId}/reconcile`))).state).toBe("elsewhere");
    expect(await keysOf(a, saleId)).toEqual([]);
  });

  it("a move whose old home cannot be inspected from here is refused", async () => {
    const saleId = await a.createSale({ stock: 1 });
    await a.services.database.db.update(sales).set({ stockHomeRedis: "redis-gone", stockHomePrefix: "gone:" }).where(eq(sales.id, saleId));
    const res = await admin(b, "POST", `/admin/sales/${saleId}/move-stock-home`);
    expect(res.status).toBe(409);
    expect((await body(res)).error.code).toBe("stock_home_unreachable");
    const [row] = await a.services.database.db.select().from(sales).where(eq(sales.id, saleId));
    expect(row.stockHomeRedis).toBe("redis-gone");
  });

  it("a pool of another home's sale found in this Redis (left from before homes were recorded) is blocked: it never sells", async () => {
    const saleId = await a.createSale({ stock: 3 });
    // B's Redis holds a pool of A's sale, as two platforms could have built before this rule.
    await b.api.ctx.store.preload(saleId, openSale({ totalStock: 3 }), true);
    expect((await b.buy(saleId, await b.token("stale-pool-1"))).status).toBe(202);
    const rec = await body(await admin(b, "POST", `/admin/sales/${saleId}/reconcile`));
    expect(rec).toMatchObject({ state: "elsewhere", redis: { loaded: true, blocked: true } });
    expect((await b.buy(saleId, await b.token("stale-pool-2"))).status).toBe(503);
    // At its home it sells on.
    expect((await a.buy(saleId, await a.token("home-pool-1"))).status).toBe(202);
  });

  it("a home whose Redis lost all its data (its identity too) moves only on the admin's word that it was lost, and then rebuilds from MySQL", async () => {
    const saleId = await a.createSale({ stock: 3 });
    expect((await a.buy(saleId, await a.token("wiped-1"))).status).toBe(202);
    await eventually("row stored", async () => (await a.rows(saleId)) === 1 && (await a.stats(saleId)).pendingHandoff === 0, 30_000);
    // What a wipe does to A's prefix: the sale's keys and the deployment's identity are gone.
    const prefix = a.services.config.REDIS_KEY_PREFIX;
    const wiped = await a.services.redis.keys(`${prefix}*`);
    await a.services.redis.del(...wiped);
    // The wiped Redis is a new home: A no longer rebuilds the sale on its own.
    expect((await body(await admin(a, "POST", `/admin/sales/${saleId}/reconcile`))).state).toBe("elsewhere");
    const refused = await admin(a, "POST", `/admin/sales/${saleId}/move-stock-home`);
    expect((await body(refused)).error.code).toBe("stock_home_unreachable");
    const moved = await admin(a, "POST", `/admin/sales/${saleId}/move-stock-home`, { oldHomeLost: true });
    expect(moved.status).toBe(200);
    const rebuilt = await body(await admin(a, "POST", `/admin/sales/${saleId}/reconcile`));
    expect(rebuilt).toMatchObject({ state: "recomputed", redis: { remaining: 2 } });
  });
});
