import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newOrderId } from "../../apps/core/ids.js";
import { createLogger } from "../../apps/core/logger.js";
import { createRedis, type Redis } from "../../apps/core/redis.js";
import { newQueueSeed, shuffleScore } from "../../apps/domain/admission/shuffle.js";
import { createWaitingRoom, type WaitingRoom } from "../../apps/domain/admission/waiting-room.js";
import type { SaleInfo } from "../../apps/domain/sale-cache.js";
import { createSaleStore, type SaleStore } from "../../apps/domain/sale-store.js";
import { randomId, stackInfo } from "../helpers/env.js";
import { testRedis } from "../helpers/redis.js";
import { openSale } from "../helpers/sales.js";
import { sleep } from "../helpers/wait.js";

/**
 * The waiting room driven through its store (lua/queue-*.lua) against the real Redis: HTTP would
 * make the 20,000-user case slow on two cores; the HTTP path is covered in admission-flow.test.ts.
 * The sale's start is the `startsAt` handed to the scripts, so a test "starts the sale" by
 * moving it to Redis's present rather than by sleeping until a wall-clock moment.
 */
let t: ReturnType<typeof testRedis>;
let room: WaitingRoom;
let reservations: SaleStore;
beforeAll(() => {
  t = testRedis();
  room = createWaitingRoom(t.redis, t.prefix);
  reservations = createSaleStore(t.redis, t.prefix);
});
afterAll(() => t.cleanup());

const redisNow = async (redis: Redis = t.redis) => {
  const [s, us] = await redis.time();
  return Number(s) * 1000 + Math.floor(Number(us) / 1000);
};

/** A queue sale loaded in Redis (open by the reserve script's clock), starting for the queue at `startsAt`. */
async function queueSale(stock: number, over: Partial<SaleInfo> = {}): Promise<SaleInfo> {
  const id = randomId("q-");
  const settings = openSale({ totalStock: stock });
  await reservations.preload(id, settings, true);
  return {
    id,
    title: id,
    priceCents: settings.priceCents,
    totalStock: stock,
    startsAt: settings.startsAt.getTime(),
    endsAt: settings.endsAt.getTime(),
    perUserLimit: 1,
    paymentTimeoutSeconds: 900,
    admission: "queue",
    powDifficultyBits: 16,
    inletPerSecond: 50,
    admissionWindowSeconds: 120,
    queueSeed: newQueueSeed(),
    ...over,
  };
}

async function inBatches<T>(items: T[], size: number, fn: (item: T) => Promise<unknown>) {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

const bytewise = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

describe("waiting room", () => {
  it("20,000 queued for 500 units: exactly 500 sold, each buyer admitted once, in seed order then FIFO, and every waiter is sold out the moment the last unit goes", async () => {
    const sale = await queueSale(500, { inletPerSecond: 5000, startsAt: (await redisNow()) + 3_600_000 });
    const early = Array.from({ length: 400 }, (_, i) => `early-${i}`);
    const late = Array.from({ length: 19_600 }, (_, i) => `late-${i}`);

    // Before the start: places in seed order, whatever the arrival order.
    await inBatches(early, 500, async (u) => expect((await room.join(sale, u)).q).toMatchObject({ state: "waiting", joined: true }));
    const admitBeforeStart = await room.admit(sale, 100);
    expect(admitBeforeStart.admitted).toEqual([]);

    // The start: Redis's present. Later joiners queue in arrival order (one connection keeps the
    // order of each batch's calls, and batches follow each other).
    sale.startsAt = await redisNow();
    await inBatches(late, 1000, (u) => room.join(sale, u));
    const seedOrder = [...early].sort((a, b) => shuffleScore(sale.queueSeed!, a) - shuffleScore(sale.queueSeed!, b) || bytewise(a, b));
    const expected = [...seedOrder, ...late];
    // Joining again returns the same place.
    expect((await room.join(sale, seedOrder[7])).q).toEqual({ state: "waiting", position: 8, joined: false });
    expect((await room.status(sale, late[0])).q).toMatchObject({ state: "waiting", position: 401 });

    const admittedOrder: string[] = [];
    const bought: string[] = [];
    let lastReserve: { remaining: number } | undefined;
    for (let tick = 0; tick < 200 && bought.length < 500; tick++) {
      const r = await room.admit(sale, 100);
      admittedOrder.push(...r.admitted);
      for (const u of r.admitted) {
        // Just before the last unit, waiters still wait; the read after it says sold out.
        if (bought.length === 499) expect((await room.status(sale, late[600])).q.state).toBe("waiting");
        const out = await reservations.reserve(sale.id, u, newOrderId());
        expect(out.kind).toBe("reserved");
        if (out.kind === "reserved") lastReserve = out;
        await room.converted(sale, u);
        bought.push(u);
      }
      if (!r.admitted.length) await sleep(20);
    }
    expect(lastReserve?.remaining).toBe(0);
    const firstReadAfter = await room.status(sale, late[600]);
    expect(firstReadAfter.q.state).toBe("sold_out");

    expect(bought).toHaveLength(500);
    expect(new Set(admittedOrder).size).toBe(admittedOrder.length);
    expect(admittedOrder).toEqual(expected.slice(0, 500));
    expect(await reservations.remaining(sale.id)).toBe(0);
    expect(Number(await t.redis.hget(reservations.keys(sale.id).meta, "accepted"))).toBe(500);

    // Every waiter: sold out (their place kept), none admitted; more ticks admit nobody.
    const waiters = expected.slice(500);
    const states = new Map<string, number>();
    await inBatches(waiters, 2000, async (u) => {
      const { q } = await room.status(sale, u);
      states.set(q.state, (states.get(q.state) ?? 0) + 1);
    });
    expect(Object.fromEntries(states)).toEqual({ sold_out: 19_500 });
    expect((await room.admit(sale, 100)).admitted).toEqual([]);
    // A newcomer is told at once and gets no place.
    expect((await room.join(sale, "newcomer")).q).toEqual({ state: "sold_out_new" });
    expect((await room.status(sale, "newcomer")).q).toEqual({ state: "not_in_queue" });
    const c = await room.counters(sale.id);
    expect(c).toMatchObject({ joined: 20_000, admittedTotal: 500, converted: 500, lapsed: 0, waiting: 19_500, holding: 0 });
  });

  it("a unit returned by an expired order goes to the head of the queue at the next tick, and to nobody else", async () => {
    const sale = await queueSale(3, { inletPerSecond: 1000 });
    const users = Array.from({ length: 10 }, (_, i) => `u-${i}`);
    for (const u of users) await room.join(sale, u);
    const first = await room.admit(sale, 100);
    expect(first.admitted).toEqual(["u-0", "u-1", "u-2"]);
    const orders = new Map<string, { orderId: string; slot: number }>();
    for (const u of first.admitted) {
      const orderId = newOrderId();
      const out = await reservations.reserve(sale.id, u, orderId);
      if (out.kind !== "reserved") throw new Error(out.kind);
      orders.set(u, { orderId, slot: out.slot });
      await room.converted(sale, u);
    }
    expect((await room.status(sale, "u-3")).q).toEqual({ state: "sold_out", position: 1, joined: false });
    await sleep(20);
    expect((await room.admit(sale, 100)).admitted).toEqual([]);

    // The expiry worker closes u-1's unpaid order and returns its unit (what lifecycle/expiry does).
    const o = orders.get("u-1")!;
    expect((await reservations.release(sale.id, o.orderId, "u-1", o.slot)).kind).toBe("released");
    expect((await room.status(sale, "u-3")).q).toMatchObject({ state: "waiting", position: 1 });
    await sleep(20);
    const next = await room.admit(sale, 100);
    expect(next.admitted).toEqual(["u-3"]);
    expect((await room.status(sale, "u-3")).q.state).toBe("admitted");
    expect((await room.status(sale, "u-4")).q).toEqual({ state: "waiting", position: 1, joined: false });
    await sleep(20);
    // The unit is promised to u-3: however much credit piles up, nobody else is admitted for it.
    expect((await room.admit(sale, 100)).admitted).toEqual([]);
  });

  it("an admitted user who does not buy within the admission window loses the place, and the unit goes to the next in line", async () => {
    const sale = await queueSale(1, { inletPerSecond: 1000, admissionWindowSeconds: 1 });
    for (const u of ["slow", "next", "third"]) await room.join(sale, u);
    expect((await room.admit(sale, 100)).admitted).toEqual(["slow"]);
    const { q } = await room.status(sale, "slow");
    expect(q.state).toBe("admitted");
    await sleep(1100);
    const r = await room.admit(sale, 100);
    expect(r).toMatchObject({ admitted: ["next"], lapsed: 1, converted: 0 });
    expect((await room.status(sale, "slow")).q).toEqual({ state: "lapsed" });
    // Joining again puts the lapsed user at the back.
    expect((await room.join(sale, "slow")).q).toEqual({ state: "waiting", position: 2, joined: true });
    expect((await room.counters(sale.id)).lapsed).toBe(1);
  });

  it("two admitters ticking at once never admit more than the inlet allows plus one tick's worth", async () => {
    const inlet = 100;
    const tickMs = 100;
    const sale = await queueSale(100_000, { inletPerSecond: inlet });
    const users = Array.from({ length: 3000 }, (_, i) => `w-${i}`);
    await inBatches(users, 1000, (u) => room.join(sale, u));
    // A second API: its own connection, its own store, the same Redis.
    const other = createRedis(stackInfo().redisTarget, createLogger({ level: "silent" }));
    const otherRoom = createWaitingRoom(other, t.prefix);
    try {
      const calls: { now: number; admitted: number }[] = [];
      const until = Date.now() + 2000;
      // Far more often than a tick: without the shared credit each would admit on its own.
      const admitter = async (r: WaitingRoom) => {
        while (Date.now() < until) {
          const out = await r.admit(sale, tickMs);
          calls.push({ now: out.now, admitted: out.admitted.length });
          await sleep(5);
        }
      };
      await Promise.all([admitter(room), admitter(otherRoom), admitter(room), admitter(otherRoom)]);
      const admitted = calls.reduce((n, c) => n + c.admitted, 0);
      const span = Math.max(...calls.map((c) => c.now)) - Math.min(...calls.map((c) => c.now));
      const oneTick = (inlet * tickMs) / 1000;
      expect(admitted).toBeLessThanOrEqual(Math.floor((inlet * span) / 1000 + oneTick));
      // Loose on purpose (a busy box delays the callers): it only shows the room admits at all.
      expect(admitted).toBeGreaterThan((inlet * span) / 1000 / 10);
      expect((await room.counters(sale.id)).admittedTotal).toBe(admitted);
    } finally {
      other.disconnect();
    }
  });

  it("PATCHing the inlet takes effect at the next tick of every admitter", async () => {
    const sale = await queueSale(100_000, { inletPerSecond: 1 });
    await inBatches(
      Array.from({ length: 500 }, (_, i) => `p-${i}`),
      500,
      (u) => room.join(sale, u),
    );
    await room.admit(sale, 1000);
    await room.setInlet(sale.id, 1000);
    await sleep(200);
    const r = await room.admit(sale, 1000);
    // At 1/s, 200 ms earn nothing; at 1000/s they earn about 200.
    expect(r.admitted.length).toBeGreaterThan(50);
  });

  it("an API restarting loses nothing: a new store on a new connection sees the same places and admits the next in line", async () => {
    const sale = await queueSale(10, { inletPerSecond: 1000 });
    for (const u of ["r-0", "r-1", "r-2", "r-3"]) await room.join(sale, u);
    expect((await room.admit(sale, 100)).admitted.length).toBeGreaterThan(0);
    const before = await Promise.all(["r-0", "r-1", "r-2", "r-3"].map(async (u) => (await room.status(sale, u)).q));

    const restarted = createRedis(stackInfo().redisTarget, createLogger({ level: "silent" }));
    try {
      const again = createWaitingRoom(restarted, t.prefix);
      const after = await Promise.all(["r-0", "r-1", "r-2", "r-3"].map(async (u) => (await again.status(sale, u)).q));
      expect(after).toEqual(before);
      expect((await again.join(sale, "r-4")).q).toMatchObject({ state: "waiting", joined: true });
      await sleep(20);
      const next = await again.admit(sale, 100);
      expect([...next.admitted]).toContain("r-4");
    } finally {
      restarted.disconnect();
    }
  });
});
