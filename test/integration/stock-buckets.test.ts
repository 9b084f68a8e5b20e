import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Redis } from "../../apps/core/redis.js";
import { fullPassReason, type ReconcileReport } from "../../apps/domain/reconcile.js";
import { homeBucket } from "../../apps/domain/sale-store.js";
import { randomId } from "../helpers/env.js";
import { startTestPlatform, type TestPlatform } from "../helpers/platform.js";
import { eventually } from "../helpers/wait.js";

/** Runs on one Redis (npm test) and on the cluster (npm run test:cluster), where buckets sit on different masters. */
let p: TestPlatform;
beforeAll(async () => {
  p = await startTestPlatform({ writer: { maxRowsPerSec: 50_000 }, lifecycle: true, env: { MAX_INFLIGHT_PURCHASES: "100000" } });
});
afterAll(() => p.stop());

const tally = (xs: number[]) => {
  const counts: Record<number, number> = {};
  for (const x of xs) counts[x] = (counts[x] ?? 0) + 1;
  return counts;
};
const buyAll = async (saleId: string, users: string[]) =>
  (await Promise.all(users.map(async (u) => p.buy(saleId, await p.token(u))))).map((r) => r.status);
const reconcile = async (saleId: string) =>
  (await (
    await p.gateway.app.request(`/admin/sales/${saleId}/reconcile`, {
      method: "POST",
      headers: { authorization: `Bearer ${p.services.config.ADMIN_TOKEN}` },
    })
  ).json()) as ReconcileReport;
/** `count` user ids whose home is `bucket` of `n`. */
function usersHomedAt(bucket: number, n: number, count: number, tag = randomId("u")): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < count; i++) if (homeBucket(`${tag}-${i}`, n) === bucket) out.push(`${tag}-${i}`);
  return out;
}
const take = (redis: Redis, ...args: (string | number)[]) =>
  (redis as unknown as Record<string, (...a: (string | number)[]) => Promise<[number, number?]>>).seckill_bucket_take(...args);

describe("stock buckets", () => {
  it("stockBuckets outside 1-64 is refused with 400 and creates nothing; a waiting room may be split", async () => {
    const headers = { authorization: `Bearer ${p.services.config.ADMIN_TOKEN}`, "content-type": "application/json" };
    const base = {
      title: "t",
      priceCents: 1,
      stock: 10,
      startsAt: new Date().toISOString(),
      endsAt: new Date(Date.now() + 3600_000).toISOString(),
    };
    for (const extra of [{ stockBuckets: 0 }, { stockBuckets: 65 }, { stockBuckets: 2.5 }]) {
      const id = randomId("bad-");
      const res = await p.gateway.app.request("/admin/sales", { method: "POST", headers, body: JSON.stringify({ id, ...base, ...extra }) });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("invalid_request");
      expect((await p.gateway.app.request(`/admin/sales/${id}/stats`, { headers })).status).toBe(404);
    }
    // A waiting room in front of a split sale (test/integration/queue-buckets.test.ts sells one).
    const id = randomId("queue-split-");
    const res = await p.gateway.app.request("/admin/sales", {
      method: "POST",
      headers,
      body: JSON.stringify({ id, ...base, stockBuckets: 4, admission: "queue" }),
    });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ id, stockBuckets: 4, admission: "queue" });
  });

  it("600 buyers against stock 100 over 8 buckets: exactly 100 accepted and persisted, every bucket empty, reconcile consistent", async () => {
    const saleId = await p.createSale({ stock: 100, stockBuckets: 8 });
    const before = await p.stats(saleId);
    expect((before as unknown as { buckets: { remaining: number }[] }).buckets.map((b) => b.remaining)).toEqual([
      13, 13, 13, 13, 12, 12, 12, 12,
    ]);
    const statuses = await buyAll(
      saleId,
      Array.from({ length: 600 }, (_, i) => `crowd-${saleId}-${i}`),
    );
    expect(tally(statuses)).toEqual({ 202: 100, 410: 500 });
    await eventually("100 rows", async () => (await p.rows(saleId)) === 100, 60_000);

    const stats = (await p.stats(saleId)) as unknown as {
      remaining: number;
      accepted: number;
      buckets: { bucket: number; remaining: number; accepted: number }[];
    };
    expect(stats.remaining).toBe(0);
    expect(stats.accepted).toBe(100);
    expect(stats.buckets).toHaveLength(8);
    expect(stats.buckets.every((b) => b.remaining === 0)).toBe(true);
    expect(stats.buckets.reduce((a, b) => a + b.accepted, 0)).toBe(100);
    const info = (await (await p.gateway.app.request(`/api/sales/${saleId}`)).json()) as Record<string, unknown>;
    expect(info).toMatchObject({ totalStock: 100, remaining: 0, state: "sold_out" });
    expect((await reconcile(saleId)).state).toBe("consistent");
  });

  it("buyers all homed in one bucket still buy every unit: stock moves to them from the other buckets", async () => {
    const saleId = await p.createSale({ stock: 16, stockBuckets: 8 });
    // Home bucket 3 holds 2 units; 16 of its buyers must get all 16.
    const users = usersHomedAt(3, 8, 20);
    expect(tally(await buyAll(saleId, users))).toEqual({ 202: 16, 410: 4 });
    expect(await p.api.ctx.store.remaining(saleId)).toBe(0);
    await eventually("16 rows", async () => (await p.rows(saleId)) === 16, 60_000);
    expect((await reconcile(saleId)).state).toBe("consistent");
  });

  it("the per-user limit holds across buckets: 30 parallel purchases of one user with perUserLimit 2 get exactly 2", async () => {
    const saleId = await p.createSale({ stock: 50, stockBuckets: 8, perUserLimit: 2 });
    const token = await p.token(`greedy-${saleId}`);
    const statuses = (await Promise.all(Array.from({ length: 30 }, () => p.buy(saleId, token)))).map((r) => r.status);
    expect(statuses.filter((s) => s === 202)).toHaveLength(2);
    expect(statuses.filter((s) => s !== 202 && s !== 409 && s !== 429)).toEqual([]);
  });

  it("a move taken but never received (a crash in between) is finished by reconcile: no unit lost", async () => {
    const saleId = await p.createSale({ stock: 8, stockBuckets: 4 });
    const store = p.api.ctx.store;
    const ks = store.bucketKeys(saleId, 4);
    expect(await take(p.services.redis, ks[0].meta, ks[0].stock, ks[0].moves, "crashed-move", 1, 10)).toEqual([1, 1]);
    // The unit is in flight: the sale still counts it, the bucket does not.
    expect(await store.remaining(saleId)).toBe(8);
    expect((await store.bucketStats(saleId))[0].remaining).toBe(1);
    expect(fullPassReason((await p.lifecycle!.reconciler.quickLook(saleId))!)).toBe("1 stock move(s) between buckets unfinished");

    const report = await reconcile(saleId);
    expect(report.repairs.join(" ")).toMatch(/finished 1 stock move/);
    expect((await store.bucketStats(saleId)).map((b) => b.remaining)).toEqual([1, 3, 2, 2]);
    expect(fullPassReason((await p.lifecycle!.reconciler.quickLook(saleId))!)).toBeNull();
    expect(tally(await buyAll(saleId, usersHomedAt(1, 4, 10)))).toEqual({ 202: 8, 410: 2 });
  });

  it("a rebuild voids a move it found half done: the late give adds nothing, nothing is oversold", async () => {
    const saleId = await p.createSale({ stock: 8, stockBuckets: 4 });
    const store = p.api.ctx.store;
    const ks = store.bucketKeys(saleId, 4);
    expect(tally(await buyAll(saleId, usersHomedAt(2, 4, 2)))).toEqual({ 202: 2 });
    await eventually("2 rows", async () => (await p.rows(saleId)) === 2);
    expect(await take(p.services.redis, ks[0].meta, ks[0].stock, ks[0].moves, "late-move", 3, 10)).toEqual([1, 1]);
    await store.block(saleId); // as the guard does after a failover
    const report = await reconcile(saleId);
    expect(report).toMatchObject({ state: "recomputed", redis: { remaining: 6 } });
    const give = (p.services.redis as unknown as Record<string, (...a: (string | number)[]) => Promise<number[]>>).seckill_bucket_give;
    expect(await give.call(p.services.redis, ks[3].meta, ks[3].stock, ks[3].movesIn, "late-move", 1)).toEqual([0]);
    expect(await store.remaining(saleId)).toBe(6);
    expect(tally(await buyAll(saleId, usersHomedAt(1, 4, 10)))).toEqual({ 202: 6, 410: 4 });
    await eventually("8 rows", async () => (await p.rows(saleId)) === 8, 60_000);
    expect((await reconcile(saleId)).state).toBe("consistent");
  });
});
