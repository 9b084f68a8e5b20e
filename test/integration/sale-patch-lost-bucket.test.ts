import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { homeBucket } from "../../apps/domain/sale-store.js";
import { randomId } from "../helpers/env.js";
import { startTestPlatform, type TestPlatform } from "../helpers/platform.js";

/**
 * A split sale whose bucket lived on a shard that restarted empty (Redis Cluster) has lost that
 * bucket's stock, buyers and slots, while its other buckets are still loaded. Only reconcile may
 * recompute it from MySQL: an admin's edit in the meantime must not load the lost bucket again
 * with its initial share, or the units its buyers already hold are sold a second time.
 */
let p: TestPlatform;
beforeAll(async () => {
  p = await startTestPlatform({ writer: { maxRowsPerSec: 50_000 } });
});
afterAll(() => p.stop());

function usersHomedAt(bucket: number, n: number, count: number, tag = randomId("u")): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < count; i++) if (homeBucket(`${tag}-${i}`, n) === bucket) out.push(`${tag}-${i}`);
  return out;
}

describe("editing a split sale that lost a bucket", () => {
  it("PATCH leaves the lost bucket to reconcile: it is not loaded again with its initial share, nothing is sold twice", async () => {
    const saleId = await p.createSale({ stock: 8, stockBuckets: 4 });
    const store = p.api.ctx.store;
    const ks = store.bucketKeys(saleId, 4);
    // Bucket 2's two units are sold.
    const first = await Promise.all(usersHomedAt(2, 4, 2).map(async (u) => p.buy(saleId, await p.token(u))));
    expect(first.map((r) => r.status)).toEqual([202, 202]);
    // Its shard restarts empty: every key of bucket 2 is gone, the other buckets are intact.
    const lost = ks[2];
    await p.services.redis.del(
      lost.meta,
      lost.stock,
      lost.buyers,
      lost.handoff,
      lost.due,
      lost.idem,
      lost.released,
      lost.moves,
      lost.movesIn,
    );
    expect(await store.isLoaded(saleId)).toBe(false);

    const res = await p.gateway.app.request(`/admin/sales/${saleId}`, {
      method: "PATCH",
      headers: { authorization: `Bearer ${p.services.config.ADMIN_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ title: "Renamed during the outage" }),
    });
    expect(res.status).toBe(200);
    expect(await p.services.redis.exists(lost.meta, lost.stock)).toBe(0);
    // Bucket 2's buyers get no unit from a re-created bucket (it would hold 2 units sold already).
    const again = await Promise.all(usersHomedAt(2, 4, 2).map(async (u) => p.buy(saleId, await p.token(u))));
    expect(again.map((r) => r.status).filter((s) => s === 202)).toEqual([]);
  });
});
