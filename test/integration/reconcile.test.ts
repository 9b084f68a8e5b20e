import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { and, eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { orders } from "../../apps/core/db/schema/index.js";
import { deleteByPrefix } from "../../apps/core/redis.js";
import { fullPassReason, type ReconcileReport } from "../../apps/domain/reconcile.js";
import { createOrderWriter } from "../../apps/order-writer/writer.js";
import { provideRedis } from "../../infra/redis-server.js";
import type { Provided } from "../../infra/stack.js";
import { stackInfo } from "../helpers/env.js";
import { startTestPlatform, type TestPlatform } from "../helpers/platform.js";
import { eventually, sleep } from "../helpers/wait.js";

let p: TestPlatform;
beforeAll(async () => {
  p = await startTestPlatform({ writer: { maxRowsPerSec: 50_000 }, lifecycle: true, env: { MAX_INFLIGHT_PURCHASES: "100000" } });
});
afterAll(() => p.stop());

const admin = () => ({ authorization: `Bearer ${p.services.config.ADMIN_TOKEN}` });
const reconcile = async (plat: TestPlatform, saleId: string) =>
  (await (
    await plat.gateway.app.request(`/admin/sales/${saleId}/reconcile`, {
      method: "POST",
      headers: { authorization: `Bearer ${plat.services.config.ADMIN_TOKEN}` },
    })
  ).json()) as ReconcileReport;

/** Deletes every Redis key of the sale (what a flush does to it), and only those. */
async function flushSale(plat: TestPlatform, saleId: string) {
  await deleteByPrefix(plat.services.redis, `${plat.services.config.REDIS_KEY_PREFIX}{sale:${saleId}}`);
  await plat.services.redis.srem(plat.api.ctx.store.global.activeSales, saleId);
}

async function buyers(plat: TestPlatform, saleId: string, tag: string, n: number) {
  const res = await Promise.all(Array.from({ length: n }, async (_, i) => plat.buy(saleId, await plat.token(`${tag}-${i}`))));
  return res.map((r) => r.status);
}
const tally = (xs: number[]) => {
  const counts: Record<number, number> = {};
  for (const x of xs) counts[x] = (counts[x] ?? 0) + 1;
  return counts;
};

describe("reconcile", () => {
  it("Redis flushed mid-sale: purchases refused until reconcile, then never more sold than the stock", async () => {
    const saleId = await p.createSale({ stock: 50 });
    expect(tally(await buyers(p, saleId, "before", 30))).toEqual({ 202: 30 });
    await eventually("30 rows", async () => (await p.rows(saleId)) === 30);
    await flushSale(p, saleId);

    expect(tally(await buyers(p, saleId, "during", 10))).toEqual({ 503: 10 });
    const forced = await p.gateway.app.request(`/admin/sales/${saleId}/preload?force=true`, { method: "POST", headers: admin() });
    expect(forced.status).toBe(409); // a full preload now would sell the 30 again

    const report = await reconcile(p, saleId);
    expect(report).toMatchObject({ state: "recomputed", reopened: true, redis: { remaining: 20 }, kafka: { writerLag: 0 } });
    expect(tally(await buyers(p, saleId, "before", 30))).toEqual({ 409: 30 }); // buyers restored from MySQL
    expect(tally(await buyers(p, saleId, "after", 40))).toEqual({ 202: 20, 410: 20 });
    await eventually("50 rows", async () => (await p.rows(saleId)) === 50);
    await sleep(500);
    expect(await p.rows(saleId)).toBe(50);
    expect((await reconcile(p, saleId)).state).toBe("consistent");
  });

  it("does not reopen while orders may still be on their way to MySQL", async () => {
    const saleId = await p.createSale({ stock: 20 });
    await p.writer!.stop();
    try {
      expect(tally(await buyers(p, saleId, "transit", 5))).toEqual({ 202: 5 });
      await eventually("handed to Kafka", async () => (await p.stats(saleId)).pendingHandoff === 0);
      await flushSale(p, saleId);
      const waiting = await reconcile(p, saleId);
      expect(waiting.state).toBe("waiting_for_writer");
      expect(waiting.kafka.writerLag).toBeGreaterThanOrEqual(5);
      expect(waiting.reopened).toBe(false);
      expect(tally(await buyers(p, saleId, "meanwhile", 3))).toEqual({ 503: 3 });
      // MySQL has no row of the 5 yet: a preload (forced or not) would load all 20 units again.
      for (const q of ["", "?force=true"]) {
        const res = await p.gateway.app.request(`/admin/sales/${saleId}/preload${q}`, { method: "POST", headers: admin() });
        expect(res.status, `preload${q}`).toBe(409);
        expect(await p.api.ctx.store.isLoaded(saleId), `preload${q}`).toBe(false);
      }
    } finally {
      p.writer = createOrderWriter(p.services, { maxRowsPerSec: 50_000 });
      await p.writer.start();
    }
    await eventually("the 5 in transit persisted", async () => (await p.rows(saleId)) === 5, 30_000);
    await eventually("the writer's lag is zero", async () => (await reconcile(p, saleId)).state !== "waiting_for_writer", 30_000, 500);
    expect((await p.stats(saleId)).remaining).toBe(15);
  });

  it("returns the stock of a closed order whose release was lost, once", async () => {
    const saleId = await p.createSale({ stock: 3 });
    await buyers(p, saleId, "lost-release", 2);
    await eventually("2 rows", async () => (await p.rows(saleId)) === 2);
    const [victim] = await p.services.database.db.select().from(orders).where(eq(orders.saleId, saleId)).limit(1);
    // Closed in MySQL, and the process died before the release.
    await p.services.database.db
      .update(orders)
      .set({ status: "closed", closedAt: sql`NOW(3)`, liveSlot: null })
      .where(and(eq(orders.id, victim.id), eq(orders.status, "pending_payment")));
    expect((await p.stats(saleId)).remaining).toBe(1);
    // Just closed, the expiry worker may be releasing it this instant: not lost yet.
    expect(await reconcile(p, saleId)).toMatchObject({ state: "consistent", repairs: [] });
    await p.services.database.db.update(orders).set({ closedAt: sql`NOW(3) - INTERVAL 1 MINUTE` }).where(eq(orders.id, victim.id));

    const report = await reconcile(p, saleId);
    expect(report.problems).toEqual([]);
    expect(report.state).toBe("repaired");
    expect(report.repairs.join(" ")).toMatch(/returned the stock of 1 closed order/);
    expect((await p.stats(saleId)).remaining).toBe(2);
    expect((await reconcile(p, saleId)).state).toBe("consistent");
    expect((await p.stats(saleId)).remaining).toBe(2);
  });
});

describe("reconcile and store that never became rows", () => {
  it("reports them and leaves their stock alone: never released automatically", async () => {
    const needsAttention = async () =>
      (await p.services.metrics.reconcileRuns.get()).values.find((v) => v.labels.state === "needs_attention")?.value ?? 0;
    const before = await needsAttention();
    const saleId = await p.createSale({ stock: 5 });
    await buyers(p, saleId, "ok", 2);
    await eventually("2 rows", async () => (await p.rows(saleId)) === 2);
    // Reserved and acknowledged by Kafka, but its message never became a row (as when dead-lettered).
    const { newOrderId } = await import("../../apps/core/ids.js");
    const orphan = newOrderId();
    await p.api.ctx.store.reserve(saleId, "ghost", orphan);
    await p.api.ctx.store.acknowledge(saleId, 0, [orphan]);
    const report = await reconcile(p, saleId);
    expect(report.state).toBe("needs_attention");
    expect(report.problems.join(" ")).toMatch(/1 reservation\(s\) hold stock but never became an order row/);
    expect(report.inTransit).toBe(1);
    expect((await p.stats(saleId)).remaining).toBe(2);
    // What the reconcile-drift alert (infra/prometheus/alerts.yml) fires on.
    expect((await needsAttention()) - before).toBe(1);
  });
});

describe("the periodic pass", () => {
  it("reads a sale whole only when its cheap figures disagree: owed units, Redis drift, a lost sale", async () => {
    const saleId = await p.createSale({ stock: 20 });
    expect(tally(await buyers(p, saleId, "quick", 12))).toEqual({ 202: 12 });
    await eventually("12 rows", async () => (await p.rows(saleId)) === 12);
    const reason = async () => fullPassReason((await p.lifecycle!.reconciler.quickLook(saleId))!);
    expect(await reason()).toBeNull();

    // A closed order whose unit never went back.
    const [one] = await p.services.database.db.select({ id: orders.id }).from(orders).where(eq(orders.saleId, saleId)).limit(1);
    await p.services.database.db.update(orders).set({ closedAt: sql`NOW(3)` }).where(eq(orders.id, one.id));
    expect(await reason()).toBe("1 closed order(s) owe their unit");
    await p.services.database.db.update(orders).set({ closedAt: null }).where(eq(orders.id, one.id));
    expect(await reason()).toBeNull();

    // Redis's counters out of step with its stock.
    const k = p.api.ctx.store.keys(saleId);
    await p.services.redis.decr(k.stock);
    expect(await reason()).toBe("Redis counters drift by -1");
    await p.services.redis.incr(k.stock);

    await flushSale(p, saleId);
    expect(await reason()).toBe("not loaded in Redis");
  });
});

describe.skipIf(stackInfo().redisCluster)("a Redis restart (AOF)", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "seckill-redis-restart-"));
  let redis: Provided | undefined;
  afterAll(async () => {
    await redis?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("blocks every active sale until reconcile recomputes it, then sells on without overselling", async () => {
    redis = await provideRedis({ dataDir, reuseDefault: false });
    const port = Number(new URL(redis.url).port);
    const plat = await startTestPlatform({
      writer: { maxRowsPerSec: 50_000 },
      lifecycle: true,
      env: { REDIS_URL: redis.url, MAX_INFLIGHT_PURCHASES: "100000" },
    });
    try {
      const saleId = await plat.createSale({ stock: 10 });
      expect(tally(await buyers(plat, saleId, "pre", 4))).toEqual({ 202: 4 });
      await eventually("4 rows", async () => (await plat.rows(saleId)) === 4);

      await redis.stop();
      redis = await provideRedis({ dataDir, reuseDefault: false, port });
      // A 503 alone may still be the API's "reconnecting to Redis"; wait for the guard's block.
      await eventually("the guard blocked the sale after the restart", () => plat.api.ctx.store.isBlocked(saleId), 20_000, 100);
      const refused = await plat.buy(saleId, await plat.token("probe-1"));
      expect(refused.status).toBe(503);
      expect(((await refused.json()) as { error: { message: string } }).error.message).toMatch(/until its stock is reconciled/);

      const report = await reconcile(plat, saleId);
      expect(report).toMatchObject({ state: "recomputed", reopened: true, redis: { remaining: 6 } });
      expect(tally(await buyers(plat, saleId, "post", 10))).toEqual({ 202: 6, 410: 4 });
      await eventually("10 rows", async () => (await plat.rows(saleId)) === 10);
    } finally {
      await plat.stop();
    }
  });
});
