import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { newOrderId } from "../../apps/core/ids.js";
import { duplicateClient, type Redis } from "../../apps/core/redis.js";
import { orderMessageSchema } from "../../apps/domain/order-message.js";
import { createSaleStore, type SaleStore } from "../../apps/domain/sale-store.js";
import { testRedis } from "../helpers/redis.js";
import { openSale } from "../helpers/sales.js";

let redis: Redis;
let r: SaleStore;
let cleanup: () => Promise<void>;
beforeEach(() => {
  const t = testRedis();
  redis = t.redis;
  cleanup = t.cleanup;
  r = createSaleStore(redis, t.prefix);
});
afterEach(() => cleanup());

const HOUR = 3600_000;

describe("reserve-6.lua", () => {
  it("reserves one unit: decrements stock, records the buyer and the handoff message", async () => {
    await r.preload("s1", openSale(), true);
    const orderId = newOrderId();
    const out = await r.reserve("s1", "alice", orderId);
    expect(out).toMatchObject({ kind: "reserved", slot: 1, remaining: 2 });
    if (out.kind !== "reserved") throw new Error("unreachable");
    expect(out.payBy - out.acceptedAt).toBe(900_000);

    const k = r.keys("s1");
    expect(await redis.get(k.stock)).toBe("2");
    expect(await redis.hget(k.buyers, "alice")).toBe("1");
    expect(await redis.hget(k.meta, "accepted")).toBe("1");
    const message = orderMessageSchema.parse(JSON.parse((await redis.hget(k.handoff, orderId))!));
    expect(message).toEqual({
      v: 1,
      orderId,
      saleId: "s1",
      userId: "alice",
      slot: 1,
      quantity: 1,
      amountCents: 1999,
      acceptedAt: out.acceptedAt,
      payBy: out.payBy,
    });
    expect(Number(await redis.zscore(k.due, orderId))).toBe(out.acceptedAt + 3000);
  });

  it("a second purchase by the same user is refused and changes nothing", async () => {
    await r.preload("s1", openSale(), true);
    await r.reserve("s1", "alice", newOrderId());
    const k = r.keys("s1");
    const before = await redis.hgetall(k.handoff);
    expect(await r.reserve("s1", "alice", newOrderId())).toEqual({ kind: "already_purchased" });
    expect(await redis.get(k.stock)).toBe("2");
    expect(await redis.hgetall(k.handoff)).toEqual(before);
  });

  it("a per-user limit of 2 gives slots 1 and 2, then refuses", async () => {
    await r.preload("s1", openSale({ perUserLimit: 2 }), true);
    expect(await r.reserve("s1", "bob", newOrderId())).toMatchObject({ kind: "reserved", slot: 1 });
    expect(await r.reserve("s1", "bob", newOrderId())).toMatchObject({ kind: "reserved", slot: 2 });
    expect(await r.reserve("s1", "bob", newOrderId())).toEqual({ kind: "already_purchased" });
    expect(await redis.hget(r.keys("s1").buyers, "bob")).toBe("3");
  });

  it("sells the last unit, publishes sold-out once, then answers sold out", async () => {
    await r.preload("s1", openSale({ totalStock: 2 }), true);
    const sub = duplicateClient(redis);
    const published: string[] = [];
    await sub.subscribe(r.global.soldOutChannel);
    sub.on("message", (_c, m) => published.push(m));
    await r.reserve("s1", "a", newOrderId());
    expect(await r.reserve("s1", "b", newOrderId())).toMatchObject({ kind: "reserved", remaining: 0 });
    expect(await r.reserve("s1", "c", newOrderId())).toEqual({ kind: "sold_out" });
    await new Promise((res) => setTimeout(res, 100));
    expect(published).toEqual(["s1"]);
    expect(await redis.get(r.keys("s1").stock)).toBe("0");
    expect(await redis.hexists(r.keys("s1").buyers, "c")).toBe(0);
    sub.disconnect();
  });

  it("a sale hash that lost its price fails the script before any write", async () => {
    await r.preload("s1", openSale(), true);
    const k = r.keys("s1");
    await redis.hdel(k.meta, "priceCents");
    const before = await Promise.all([redis.hgetall(k.meta), redis.get(k.stock), redis.hgetall(k.buyers), redis.hgetall(k.handoff)]);
    await expect(r.reserve("s1", "alice", newOrderId())).rejects.toThrow();
    expect(await Promise.all([redis.hgetall(k.meta), redis.get(k.stock), redis.hgetall(k.buyers), redis.hgetall(k.handoff)])).toEqual(
      before,
    );
  });

  it("refuses before the start and after the end by Redis's clock, and an unloaded sale", async () => {
    await r.preload("early", openSale({ startsAt: new Date(Date.now() + HOUR), endsAt: new Date(Date.now() + 2 * HOUR) }), false);
    expect(await r.reserve("early", "a", newOrderId())).toEqual({ kind: "not_started" });
    await r.preload("late", openSale({ startsAt: new Date(Date.now() - 2 * HOUR), endsAt: new Date(Date.now() - HOUR) }), true);
    expect(await r.reserve("late", "a", newOrderId())).toEqual({ kind: "ended" });
    expect(await r.reserve("never-loaded", "a", newOrderId())).toEqual({ kind: "not_loaded" });
    expect(await redis.get(r.keys("early").stock)).toBe("3");
    expect(await redis.get(r.keys("late").stock)).toBe("3");
  });

  it("a blocked sale (awaiting reconcile) refuses every purchase", async () => {
    await r.preload("s1", openSale(), true);
    await redis.hset(r.keys("s1").meta, "blocked", "1");
    expect(await r.reserve("s1", "a", newOrderId())).toEqual({ kind: "blocked" });
    expect(await redis.get(r.keys("s1").stock)).toBe("3");
  });

  it("the same Idempotency-Key replays the first order, even once sold out", async () => {
    await r.preload("s1", openSale({ totalStock: 1 }), true);
    const first = newOrderId();
    expect(await r.reserve("s1", "alice", first, "key-1")).toMatchObject({ kind: "reserved" });
    expect(await r.reserve("s1", "alice", newOrderId(), "key-1")).toEqual({ kind: "replayed", orderId: first });
    // The key belongs to alice only.
    expect(await r.reserve("s1", "mallory", newOrderId(), "key-1")).toEqual({ kind: "sold_out" });
    expect(await redis.hlen(r.keys("s1").handoff)).toBe(1);
  });
});

describe("preload-2.lua", () => {
  it("loads once; a repeated preload never resets a decremented stock", async () => {
    expect(
      await r.preload("s1", openSale({ startsAt: new Date(Date.now() + HOUR), endsAt: new Date(Date.now() + 2 * HOUR) }), false),
    ).toEqual({
      kind: "loaded",
      remaining: 3,
    });
    await redis.decr(r.keys("s1").stock);
    expect(
      await r.preload("s1", openSale({ startsAt: new Date(Date.now() + HOUR), endsAt: new Date(Date.now() + 2 * HOUR) }), false),
    ).toEqual({
      kind: "already_loaded",
      remaining: 2,
    });
    expect(await r.activeSales()).toContain("s1");
  });

  it("refuses once the sale has started unless forced, and changes nothing", async () => {
    expect(await r.preload("s1", openSale(), false)).toEqual({ kind: "started", remaining: null });
    expect(await redis.exists(r.keys("s1").meta)).toBe(0);
    expect(await r.preload("s1", openSale(), true)).toEqual({ kind: "loaded", remaining: 3 });
    expect(await r.preload("s1", openSale({ priceCents: 5 }), false)).toEqual({ kind: "started", remaining: 3 });
    expect(await redis.hget(r.keys("s1").meta, "priceCents")).toBe("1999");
  });
});

describe("handoff-claim-2.lua", () => {
  it("claims only overdue records, leases them, and skips acknowledged ones", async () => {
    await r.preload("s1", openSale(), true);
    const a = newOrderId();
    const b = newOrderId();
    await r.reserve("s1", "a", a);
    await r.reserve("s1", "b", b);
    expect(await r.claimOverdue("s1", 10, 5000)).toEqual([]); // within the grace period
    const k = r.keys("s1");
    await redis.zadd(k.due, 0, a, 0, b);
    await r.acknowledge("s1", 0, [b]);
    await redis.zadd(k.due, 0, b); // a stale due entry whose record is gone
    const claimed = await r.claimOverdue("s1", 10, 5000);
    expect(claimed.map((c) => c.orderId)).toEqual([a]);
    expect(JSON.parse(claimed[0].message).orderId).toBe(a);
    expect(await redis.zscore(k.due, b)).toBeNull();
    // Leased: a second relay finds nothing until the lease runs out.
    expect(await r.claimOverdue("s1", 10, 5000)).toEqual([]);
  });
});

describe("release-4.lua", () => {
  it("returns the unit, frees the slot and broadcasts restock, once per order", async () => {
    await r.preload("s1", openSale({ totalStock: 1 }), true);
    const orderId = newOrderId();
    const reserved = await r.reserve("s1", "alice", orderId);
    expect(reserved).toMatchObject({ kind: "reserved", remaining: 0 });
    const sub = duplicateClient(redis);
    const restocks: string[] = [];
    await sub.subscribe(r.global.restockChannel);
    sub.on("message", (_c, m) => restocks.push(m));

    expect(await r.release("s1", orderId, "alice", 1)).toEqual({ kind: "released", remaining: 1 });
    const k = r.keys("s1");
    expect(await redis.hexists(k.buyers, "alice")).toBe(0);
    expect(await redis.sismember(k.released, orderId)).toBe(1);
    expect(await redis.hget(k.meta, "released")).toBe("1");
    expect(await r.release("s1", orderId, "alice", 1)).toEqual({ kind: "already_released" });
    expect(await redis.get(k.stock)).toBe("1");
    await new Promise((res) => setTimeout(res, 100));
    expect(restocks).toEqual(["s1"]);
    sub.disconnect();
    // The freed user may buy again.
    expect(await r.reserve("s1", "alice", newOrderId())).toMatchObject({ kind: "reserved", slot: 1 });
  });

  it("changes nothing for an unloaded sale or a slot that is not live", async () => {
    expect(await r.release("nowhere", newOrderId(), "bob", 1)).toEqual({ kind: "not_loaded" });
    await r.preload("s1", openSale({ perUserLimit: 2 }), true);
    await r.reserve("s1", "bob", newOrderId());
    expect(await r.release("s1", newOrderId(), "bob", 2)).toEqual({ kind: "slot_not_live" });
    expect(await redis.get(r.keys("s1").stock)).toBe("2");
    expect(await redis.hget(r.keys("s1").buyers, "bob")).toBe("1");
  });
});
