import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deleteByPrefix } from "../../apps/core/redis.js";
import { createOrderWriter } from "../../apps/order-writer/writer.js";
import { startTestPlatform, type TestPlatform } from "../helpers/platform.js";
import { eventually } from "../helpers/wait.js";

let p: TestPlatform;
beforeAll(async () => {
  p = await startTestPlatform({ writer: { maxRowsPerSec: 50_000 } });
});
afterAll(() => p.stop());

const admin = () => ({ authorization: `Bearer ${p.services.config.ADMIN_TOKEN}`, "content-type": "application/json" });

/** Deletes every Redis key of the sale (what a flush does to it), and only those. */
async function flushSale(saleId: string) {
  await deleteByPrefix(p.services.redis, `${p.services.config.REDIS_KEY_PREFIX}{sale:${saleId}}`);
  await p.services.redis.srem(p.api.ctx.store.global.activeSales, saleId);
}

describe("preload of a sale Redis lost", () => {
  it("refuses while its orders are in Kafka even after its start was moved to the future", async () => {
    const saleId = await p.createSale({ stock: 10 });
    await p.writer!.stop();
    try {
      const bought = await Promise.all(
        Array.from({ length: 4 }, async (_, i) => (await p.buy(saleId, await p.token(`postponed-${i}`))).status),
      );
      expect(bought).toEqual([202, 202, 202, 202]);
      await eventually("handed to Kafka", async () => (await p.stats(saleId)).pendingHandoff === 0);
      // The admin postpones the sale (an hour from now), then Redis loses it.
      const later = new Date(Date.now() + 3600_000);
      const patched = await p.gateway.app.request(`/admin/sales/${saleId}`, {
        method: "PATCH",
        headers: admin(),
        body: JSON.stringify({ startsAt: later.toISOString(), endsAt: new Date(later.getTime() + 3600_000).toISOString() }),
      });
      expect(patched.status).toBe(200);
      await flushSale(saleId);
      // MySQL has no row of the 4 yet: loading 10 units would sell them again once the sale opens.
      const res = await p.gateway.app.request(`/admin/sales/${saleId}/preload`, { method: "POST", headers: admin() });
      expect(res.status).toBe(409);
      expect(await p.api.ctx.store.isLoaded(saleId)).toBe(false);
    } finally {
      p.writer = createOrderWriter(p.services, { maxRowsPerSec: 50_000 });
      await p.writer.start();
    }
    await eventually("the 4 in transit persisted", async () => (await p.rows(saleId)) === 4, 30_000);
  });

  it("refuses, forced, a split sale that lost one bucket while its orders are in Kafka", async () => {
    const saleId = await p.createSale({ stock: 12, stockBuckets: 3 });
    await p.writer!.stop();
    try {
      const bought = await Promise.all(
        Array.from({ length: 6 }, async (_, i) => (await p.buy(saleId, await p.token(`bucket-${i}`))).status),
      );
      expect(bought.every((s) => s === 202)).toBe(true);
      await eventually("handed to Kafka", async () => (await p.stats(saleId)).pendingHandoff === 0);
      await deleteByPrefix(p.services.redis, `${p.services.config.REDIS_KEY_PREFIX}{sale:${saleId}}`); // bucket 0 only
      const res = await p.gateway.app.request(`/admin/sales/${saleId}/preload?force=true`, { method: "POST", headers: admin() });
      expect(res.status).toBe(409);
      expect(await p.api.ctx.store.isLoaded(saleId)).toBe(false);
    } finally {
      p.writer = createOrderWriter(p.services, { maxRowsPerSec: 50_000 });
      await p.writer.start();
    }
    await eventually("the 6 in transit persisted", async () => (await p.rows(saleId)) === 6, 30_000);
  });

  it("loads again an upcoming sale Redis lost before anyone could buy, once the writer has caught up", async () => {
    const startsAt = new Date(Date.now() + 3600_000);
    const saleId = await p.createSale({ stock: 7, startsAt, endsAt: new Date(startsAt.getTime() + 3600_000) });
    await flushSale(saleId);
    await eventually(
      "preloaded again",
      async () => (await p.gateway.app.request(`/admin/sales/${saleId}/preload`, { method: "POST", headers: admin() })).status === 200,
      30_000,
      500,
    );
    expect(await p.api.ctx.store.remaining(saleId)).toBe(7);
  });
});
