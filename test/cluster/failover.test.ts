import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Cluster } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keySlot } from "../../apps/core/redis.js";
import type { ReconcileReport } from "../../apps/domain/reconcile.js";
import { clusterHealthy, type ProvidedCluster, provideRedisCluster } from "../../infra/redis-cluster.js";
import { randomId } from "../helpers/env.js";
import { startTestPlatform, type TestPlatform } from "../helpers/platform.js";
import { eventually } from "../helpers/wait.js";

/**
 * A Redis cluster of this file's own (masters are killed here), with the platform on it. The
 * guard must notice a master replaced by its replica, or restarted empty, and keep the sales on
 * it closed until reconcile recomputed them; sales on the other masters sell on.
 */
let cluster: ProvidedCluster;
let p: TestPlatform;
const dataDir = mkdtempSync(join(tmpdir(), "seckill-cluster-failover-"));
beforeAll(async () => {
  cluster = await provideRedisCluster({ dataDir, reuseDefault: false, freePorts: true });
  p = await startTestPlatform({
    writer: { maxRowsPerSec: 50_000 },
    lifecycle: true,
    env: { REDIS_CLUSTER_NODES: cluster.url, MAX_INFLIGHT_PURCHASES: "100000" },
  });
}, 120_000);
afterAll(async () => {
  await p?.stop();
  await cluster?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const ports = () => cluster.nodes.map((n) => n.port);
/** The process of the master that serves the sale's keys now. */
async function masterOf(saleId: string) {
  const redis = p.services.redis as Cluster;
  const owner = redis.slots[(await p.api.ctx.store.saleSlots(saleId))[0]][0];
  const node = cluster.nodes.find((n) => owner === `127.0.0.1:${n.port}`);
  if (!node) throw new Error(`no node process serves ${owner}`);
  return node;
}
/** Creates sales until one lands on a master other than `other`'s. */
async function saleOnAnotherMaster(otherSale: string, stock: number): Promise<string> {
  for (;;) {
    const id = randomId("sale-");
    const slot = keySlot(`{sale:${id}}`);
    const owner = (p.services.redis as Cluster).slots[slot][0];
    if (owner !== `127.0.0.1:${(await masterOf(otherSale)).port}`) return p.createSale({ id, stock });
  }
}
const tally = (xs: number[]) => {
  const counts: Record<number, number> = {};
  for (const x of xs) counts[x] = (counts[x] ?? 0) + 1;
  return counts;
};
async function buyers(saleId: string, tag: string, n: number) {
  const res = await Promise.all(Array.from({ length: n }, async (_, i) => p.buy(saleId, await p.token(`${tag}-${i}`))));
  return res.map((r) => r.status);
}
const reconcile = async (saleId: string) =>
  (await (
    await p.gateway.app.request(`/admin/sales/${saleId}/reconcile`, {
      method: "POST",
      headers: { authorization: `Bearer ${p.services.config.ADMIN_TOKEN}` },
    })
  ).json()) as ReconcileReport;

describe("Redis Cluster failover", () => {
  it("a master SIGKILLed mid-sale and its replica promoted: its sale stays closed until reconcile, the other master's sale sells on, nothing oversold", async () => {
    const hit = await p.createSale({ stock: 10 });
    const spared = await saleOnAnotherMaster(hit, 10);
    expect(tally(await buyers(hit, "pre", 4))).toEqual({ 202: 4 });
    expect(tally(await buyers(spared, "pre", 2))).toEqual({ 202: 2 });
    await eventually("6 rows", async () => (await p.rows(hit)) === 4 && (await p.rows(spared)) === 2);

    const victim = await masterOf(hit);
    victim.kill();
    try {
      // The replica takes over after the node timeout; the guard then blocks the sale it serves.
      await eventually("the guard blocked the sale on the failed master", () => p.api.ctx.store.isBlocked(hit), 60_000, 100);
      expect(await p.api.ctx.store.isBlocked(spared)).toBe(false);
      await eventually("the other master's sale sells again", async () => (await buyers(spared, "during", 1))[0] === 202, 30_000, 200);
      expect(tally(await buyers(hit, "during", 5))).toEqual({ 503: 5 });

      // The spared sale's order just accepted may not be persisted yet: reconcile then answers
      // waiting_for_writer and keeps the sale closed, and the operator runs it again.
      const report = await eventually(
        "reconcile no longer waiting for the writer",
        async () => {
          const r = await reconcile(hit);
          return r.state === "waiting_for_writer" ? null : r;
        },
        30_000,
        250,
      );
      expect(report).toMatchObject({ state: "recomputed", reopened: true, redis: { remaining: 6 } });
      expect(tally(await buyers(hit, "post", 10))).toEqual({ 202: 6, 410: 4 });
      await eventually("10 rows of the failed-over sale", async () => (await p.rows(hit)) === 10, 60_000);
    } finally {
      // The old master comes back as a replica of its successor: a whole cluster for the next
      // test, even when this one failed.
      await victim.start();
      await eventually("cluster healthy again", () => clusterHealthy(ports()), 60_000, 200);
    }
  }, 240_000);

  it("a master restarted with its data gone: the sale comes back from MySQL, with no unit sold twice", async () => {
    const saleId = await p.createSale({ stock: 8 });
    expect(tally(await buyers(saleId, "pre", 3))).toEqual({ 202: 3 });
    await eventually("3 rows", async () => (await p.rows(saleId)) === 3);

    const victim = await masterOf(saleId);
    victim.kill();
    await victim.start({ empty: true });
    // Whether the empty node kept its slots or its replica took over first, the sale may not sell
    // from what Redis has now: it is blocked or not loaded until reconcile.
    await eventually(
      "the sale is closed (blocked or lost)",
      async () => (await p.api.ctx.store.isBlocked(saleId)) || !(await p.api.ctx.store.isLoaded(saleId)),
      60_000,
      100,
    );
    await eventually("cluster healthy again", () => clusterHealthy(ports()), 60_000, 200);
    expect(tally(await buyers(saleId, "during", 3))).toEqual({ 503: 3 });

    // The lifecycle's reopen pass (every second in production) recomputes it.
    await eventually(
      "the sale reopened",
      async () => {
        await p.lifecycle!.reopenBlocked();
        const r = await reconcile(saleId);
        return r.state === "consistent" || r.state === "recomputed";
      },
      60_000,
      500,
    );
    expect(tally(await buyers(saleId, "pre", 3))).toEqual({ 409: 3 }); // buyers restored from MySQL
    expect(tally(await buyers(saleId, "post", 8))).toEqual({ 202: 5, 410: 3 });
    await eventually("8 rows", async () => (await p.rows(saleId)) === 8, 60_000);
  }, 240_000);
});
