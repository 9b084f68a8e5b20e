import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Redis } from "../../apps/core/redis.js";
import { homeBucket } from "../../apps/domain/sale-store.js";
import { randomId } from "../helpers/env.js";
import { startTestPlatform, type TestPlatform } from "../helpers/platform.js";
import { eventually } from "../helpers/wait.js";

/**
 * A one-shot crowd (each buyer asks once) far larger than a small stock split over 8 buckets:
 * the buckets run dry at nearly the same moment, so stock is moving between buckets while other
 * buyers look for it. Every unit must still sell, none twice.
 */
let p: TestPlatform;
beforeAll(async () => {
  p = await startTestPlatform({ writer: { maxRowsPerSec: 50_000 }, env: { MAX_INFLIGHT_PURCHASES: "100000" } });
});
afterAll(() => p.stop());

const tally = (xs: number[]) => {
  const counts: Record<number, number> = {};
  for (const x of xs) counts[x] = (counts[x] ?? 0) + 1;
  return counts;
};

/** `count` user ids whose home is `bucket` of `n`. */
function usersHomedAt(bucket: number, n: number, count: number, tag = randomId("u")): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < count; i++) if (homeBucket(`${tag}-${i}`, n) === bucket) out.push(`${tag}-${i}`);
  return out;
}
type Call = (...a: (string | number)[]) => Promise<number[]>;
const script = (redis: Redis, name: string) => (redis as unknown as Record<string, Call>)[name].bind(redis);

describe("stock buckets under a one-shot crowd", () => {
  it("500 parallel buyers against 20 units over 8 buckets buy exactly 20, sale after sale (no undersell while units move)", async () => {
    for (let round = 0; round < 5; round++) {
      const saleId = await p.createSale({ stock: 20, stockBuckets: 8 });
      const tokens = await Promise.all(Array.from({ length: 500 }, (_, i) => p.token(`crowd-${saleId}-${i}`)));
      const statuses = (await Promise.all(tokens.map((t) => p.buy(saleId, t)))).map((r) => r.status);
      expect({ round, ...tally(statuses) }).toEqual({ round, 202: 20, 410: 480 });
      expect(await p.api.ctx.store.remaining(saleId)).toBe(0);
      await eventually("20 rows", async () => (await p.rows(saleId)) === 20, 60_000);
    }
  });

  it("one user's 200 parallel purchases with and without Idempotency-Keys over 8 buckets get exactly perUserLimit", async () => {
    const saleId = await p.createSale({ stock: 50, stockBuckets: 8, perUserLimit: 3 });
    const token = await p.token(`greedy-${saleId}`);
    const res = await Promise.all(
      Array.from({ length: 200 }, (_, i) => p.buy(saleId, token, i % 4 === 0 ? {} : { headers: { "idempotency-key": `k-${i % 7}` } })),
    );
    const accepted = new Set<string>();
    for (const r of res) if (r.status === 202) accepted.add(((await r.json()) as { orderId: string }).orderId);
    expect(accepted.size).toBe(3);
    expect(res.map((r) => r.status).filter((s) => s !== 202 && s !== 409 && s !== 429)).toEqual([]);
    await eventually("3 rows", async () => (await p.rows(saleId)) === 3, 60_000);
  });

  it("a buyer whose bucket is dry while another API's move is still in flight waits for it and buys, instead of being told sold out", async () => {
    const saleId = await p.createSale({ stock: 8, stockBuckets: 4 });
    const store = p.api.ctx.store;
    const redis = p.services.redis;
    const ks = store.bucketKeys(saleId, 4);
    // Buckets 1-3 sold out by their own buyers: [2, 0, 0, 0].
    for (const b of [1, 2, 3]) {
      const res = await Promise.all(usersHomedAt(b, 4, 2).map(async (u) => p.buy(saleId, await p.token(u))));
      expect(res.map((r) => r.status)).toEqual([202, 202]);
    }
    // Another API takes bucket 0's last two units for bucket 3 (two moves) and has not given them yet.
    const take = script(redis, "seckill_bucket_take");
    expect(await take(ks[0].meta, ks[0].stock, ks[0].moves, "other-api-move-1", 3, 10)).toEqual([1, 1]);
    expect(await take(ks[0].meta, ks[0].stock, ks[0].moves, "other-api-move-2", 3, 10)).toEqual([1, 1]);
    expect(await store.remaining(saleId)).toBe(2);
    // Its gives land 150 ms later, as a slow round trip would.
    const give = script(redis, "seckill_bucket_give");
    const late = new Promise<void>((resolve) =>
      setTimeout(async () => {
        for (const id of ["other-api-move-1", "other-api-move-2"]) {
          await give(ks[3].meta, ks[3].stock, ks[3].movesIn, id, 1);
          await redis.hdel(ks[0].moves, id);
        }
        resolve();
      }, 150),
    );
    const [buyer] = usersHomedAt(1, 4, 1);
    const res = await p.buy(saleId, await p.token(buyer));
    await late;
    expect({ status: res.status, remaining: await store.remaining(saleId) }).toEqual({ status: 202, remaining: 1 });
  });
});
