import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sales } from "../../apps/core/db/schema/index.js";
import type { SaleInfo } from "../../apps/domain/sale-cache.js";
import { ownDatabase, randomId } from "../helpers/env.js";
import { startTestPlatform, type TestPlatform } from "../helpers/platform.js";
import { eventually, sleep } from "../helpers/wait.js";

/**
 * A waiting room in front of a sale split over 8 stock buckets (README "Admission", "Stock
 * buckets"): the queue scripts run in the sale's base slot and cannot read the buckets, so each
 * admission tick reads the total over the buckets and hands it to the admit script, which keeps
 * a copy for the status and join scripts. Runs on one Redis and, in vitest.cluster.config.ts, on
 * the local Redis Cluster, where the buckets sit on different masters.
 */
let p: TestPlatform;
let db: Awaited<ReturnType<typeof ownDatabase>>;
beforeAll(async () => {
  db = await ownDatabase();
  p = await startTestPlatform({ env: { DATABASE_URL: db.url, MAX_INFLIGHT_PURCHASES: "100000" }, admitTickMs: 20 });
});
afterAll(async () => {
  await p.stop();
  await db.drop();
});

type Body = Record<string, unknown> & { error?: { code: string } };
async function call(method: string, path: string, token: string, headers: Record<string, string> = {}) {
  const res = await p.gateway.app.request(path, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...headers },
    body: method === "GET" ? undefined : "{}",
  });
  return { status: res.status, body: (await res.json()) as Body };
}

const tally = (xs: (string | number)[]) => {
  const counts: Record<string, number> = {};
  for (const x of xs) counts[x] = (counts[x] ?? 0) + 1;
  return counts;
};

/** The sale as the API's cache holds it (what the admitter and the routes see). */
const saleInfo = async (saleId: string) => (await p.api.ctx.saleCache.get(saleId)) as SaleInfo;

describe("a waiting room in front of a sale split over stock buckets", () => {
  it("200 queued for 20 units over 8 buckets: exactly 20 bought, nobody twice, nobody admitted without a unit, the rest sold out; units that come back are admitted again", async () => {
    const startsAt = new Date(Date.now() + 2000);
    // A fast inlet (so admission is bounded by the stock, not by the inlet) and a long window (nobody lapses).
    const saleId = await p.createSale({
      stock: 20,
      stockBuckets: 8,
      admission: "queue",
      inletPerSecond: 400,
      admissionWindowSeconds: 600,
      startsAt,
    });
    const users = Array.from({ length: 200 }, (_, i) => `qb-${i}-${randomId()}`);
    const tokens = new Map(await Promise.all(users.map(async (u) => [u, await p.token(u)] as const)));
    for (const u of users) expect((await call("POST", `/api/sales/${saleId}/queue`, tokens.get(u)!)).status).toBe(202);
    await sleep(Math.max(0, startsAt.getTime() - Date.now() + 50));

    const room = p.api.ctx.admission.room;
    const store = p.api.ctx.store;
    // The crowd: everyone polls; an admitted user buys at once with the pass.
    const outcome = new Map<string, string>();
    const orders = new Map<string, string>();
    const purchases: { user: string; status: number; code?: string }[] = [];
    const crowd = async (u: string) => {
      for (;;) {
        const s = await call("GET", `/api/sales/${saleId}/queue`, tokens.get(u)!);
        if (s.body.state === "admitted") {
          const bought = await call("POST", `/api/sales/${saleId}/orders`, tokens.get(u)!, { "x-purchase-pass": s.body.pass as string });
          purchases.push({ user: u, status: bought.status, code: bought.body.error?.code });
          if (bought.status === 202) orders.set(u, bought.body.orderId as string);
          outcome.set(u, bought.status === 202 ? "bought" : `refused ${bought.body.error?.code}`);
          return;
        }
        if (s.body.state === "sold_out") {
          outcome.set(u, "sold_out");
          return;
        }
        expect(s.body.state).toBe("waiting");
        await sleep(30 + Math.random() * 30);
      }
    };
    await Promise.all(users.map(crowd));

    expect(tally([...outcome.values()])).toEqual({ bought: 20, sold_out: 180 });
    expect(new Set(purchases.map((x) => x.user)).size).toBe(purchases.length); // each admitted user bought once
    // The documented bound (README "Admission"): those holding an admission never outnumber the
    // units left. Here every admitted user buys at once and no unit comes back, so 20 units allow
    // 20 admissions: not one more, and none of them refused for a unit that was gone.
    expect(purchases.filter((x) => x.status !== 202)).toEqual([]);
    const counters = await room.counters(saleId);
    expect(counters).toMatchObject({ admittedTotal: 20, converted: 20, lapsed: 0 });
    expect(await store.remaining(saleId)).toBe(0);
    expect(await store.accepted(saleId)).toBe(20);
    // Nobody holds a second order: each buyer's home bucket records one live slot.
    const buyers = (await store.snapshot(saleId)).buyers;
    expect(Object.keys(buyers).sort()).toEqual([...orders.keys()].sort());
    expect(new Set(Object.values(buyers))).toEqual(new Set(["1"]));

    // Sold out: every waiter's read says so, a newcomer is turned away, and further ticks admit nobody.
    const waiters = users.filter((u) => outcome.get(u) === "sold_out");
    for (const u of waiters.slice(0, 20))
      expect((await call("GET", `/api/sales/${saleId}/queue`, tokens.get(u)!)).body.state).toBe("sold_out");
    const late = await call("POST", `/api/sales/${saleId}/queue`, await p.token(`late-${randomId()}`));
    expect([late.status, late.body.error?.code]).toEqual([410, "sold_out"]);
    await sleep(100);
    expect((await room.counters(saleId)).admittedTotal).toBe(20);

    // Three buyers do not pay: their orders close and their units go back to their home buckets.
    const unpaid = [...orders.keys()].slice(0, 3);
    for (const u of unpaid) expect((await store.release(saleId, orders.get(u)!, u, 1)).kind).toBe("released");
    expect(await store.remaining(saleId)).toBe(3);
    // The room sees them at its next ticks: the head of the queue, and only three, are admitted again.
    const readmitted = await eventually("three waiters admitted for the returned units", async () => {
      const got: [string, string][] = [];
      for (const u of waiters) {
        const s = await call("GET", `/api/sales/${saleId}/queue`, tokens.get(u)!);
        if (s.body.state === "admitted") got.push([u, s.body.pass as string]);
      }
      return got.length === 3 ? got : null;
    });
    expect((await room.counters(saleId)).admittedTotal).toBe(23);
    for (const [u, pass] of readmitted) {
      expect((await call("POST", `/api/sales/${saleId}/orders`, tokens.get(u)!, { "x-purchase-pass": pass })).status).toBe(202);
    }
    // Sold out again: every remaining waiter is told so once the next tick has read the buckets.
    await eventually("sold out again", async () => {
      const s = await call("GET", `/api/sales/${saleId}/queue`, tokens.get(waiters.at(-1)!)!);
      return s.body.state === "sold_out";
    });
    await sleep(100);
    expect(await store.remaining(saleId)).toBe(0);
    expect(await store.accepted(saleId)).toBe(23);
    expect((await room.counters(saleId)).admittedTotal).toBe(23);
  });

  it("a tick whose read of the buckets went stale while admitted users bought admits none for the units they took", async () => {
    const saleId = await p.createSale({ stock: 4, stockBuckets: 8, admission: "queue", inletPerSecond: 1000, admissionWindowSeconds: 600 });
    const sale = await saleInfo(saleId);
    const room = p.api.ctx.admission.room;
    const store = p.api.ctx.store;
    // Stop this platform's admitter for the duration: the test ticks by hand, in a chosen order.
    await p.api.admitter.stop();
    try {
      const users = Array.from({ length: 6 }, (_, i) => `stale-${i}-${randomId()}`);
      for (const u of users) await room.join(sale, u);
      const first = await room.admit(sale, 1000, 2, { ...(await room.beginStockRead(saleId)), total: await store.unsold(saleId) });
      expect(first.admitted).toEqual(users.slice(0, 2));

      // A tick reads the buckets (4 left) ...
      const read = { ...(await room.beginStockRead(saleId)), total: await store.unsold(saleId) };
      expect(read.total).toBe(4);
      // ... then both admitted users buy and free their places before its script runs.
      const firstOrders: string[] = [];
      for (const u of users.slice(0, 2)) {
        firstOrders.push(`o-${randomId()}`);
        expect((await store.reserve(saleId, u, firstOrders.at(-1)!)).kind).toBe("reserved");
        expect(await room.converted(sale, u)).toBe(true);
      }
      // The room records its buyers in its own slot (their buyers hash is in their home bucket).
      const bought = store.keys(saleId).queueBought;
      expect(await p.services.redis.hkeys(bought)).toEqual(expect.arrayContaining(users.slice(0, 2)));
      // 2 units left, nobody holding: 2 admissions, not the 4 the stale read alone would allow.
      const stale = await room.admit(sale, 1000, 100, read);
      expect(stale.admitted).toEqual(users.slice(2, 4));
      // A read older than the last one written does not put its total back for the status reads.
      const older = { ...(await room.beginStockRead(saleId)), total: await store.unsold(saleId) };
      const newer = { ...(await room.beginStockRead(saleId)), total: 0 };
      await room.admit(sale, 1000, 100, newer);
      expect((await room.status(sale, users[5])).q.state).toBe("sold_out");
      await room.admit(sale, 1000, 100, older);
      expect((await room.status(sale, users[5])).q.state).toBe("sold_out");
      // The two admitted last buy: every bucket is empty, the room admits nobody and says sold out.
      for (const u of users.slice(2, 4)) {
        expect((await store.reserve(saleId, u, `o-${randomId()}`)).kind).toBe("reserved");
        expect(await room.converted(sale, u)).toBe(true);
      }
      const tick = await room.admit(sale, 1000, 100, { ...(await room.beginStockRead(saleId)), total: await store.unsold(saleId) });
      expect(tick.admitted).toEqual([]);
      expect((await room.status(sale, users[4])).q.state).toBe("sold_out");
      expect((await room.join(sale, `new-${randomId()}`)).q.state).toBe("sold_out_new");
      // An order that closes unpaid returns its unit, and the room forgets that buyer as the buyers hash does.
      expect((await store.release(saleId, firstOrders[0], users[0], 1)).kind).toBe("released");
      expect(await p.services.redis.hexists(bought, users[0])).toBe(0);
      expect(await p.services.redis.hexists(bought, users[1])).toBe(1);
      const back = await room.admit(sale, 1000, 100, { ...(await room.beginStockRead(saleId)), total: await store.unsold(saleId) });
      expect(back.admitted).toEqual([users[4]]);
    } finally {
      p.api.admitter.start();
    }
  });
  it("the room forgets a buyer whose order closed however the unit went back: a retried release, or reconcile's rebuild", async () => {
    const saleId = await p.createSale({
      stock: 10,
      stockBuckets: 8,
      admission: "queue",
      inletPerSecond: 1000,
      admissionWindowSeconds: 600,
    });
    const sale = await saleInfo(saleId);
    const room = p.api.ctx.admission.room;
    const store = p.api.ctx.store;
    const redis = p.services.redis;
    const bought = store.keys(saleId).queueBought;
    await p.api.admitter.stop();
    try {
      const users = Array.from({ length: 3 }, (_, i) => `forget-${i}-${randomId()}`);
      for (const u of users) await room.join(sale, u);
      const tick = await room.admit(sale, 1000, 100, { ...(await room.beginStockRead(saleId)), total: await store.unsold(saleId) });
      expect(tick.admitted).toEqual(users);
      const orderOf = new Map<string, string>();
      for (const u of users) {
        orderOf.set(u, `o-${randomId()}`);
        expect((await store.reserve(saleId, u, orderOf.get(u)!)).kind).toBe("reserved");
        expect(await room.converted(sale, u)).toBe(true);
      }

      // users[0]: the release script returned the unit, but the process died (or the room's slot
      // did not answer) before the room forgot the buyer; the expiry worker's retry finds it released.
      expect((await store.release(saleId, orderOf.get(users[0])!, users[0], 1)).kind).toBe("released");
      await redis.hset(bought, users[0], 1); // the cleanup that was lost
      expect((await store.release(saleId, orderOf.get(users[0])!, users[0], 1)).kind).toBe("already_released");
      expect(await redis.hexists(bought, users[0])).toBe(0);

      // users[1]: the order closed while its bucket was lost; reconcile recomputes the sale from
      // MySQL (the order closed, users[2]'s live) and counts the unit as returned, without a release.
      const [row] = await p.services.database.db.select().from(sales).where(eq(sales.id, saleId));
      await store.block(saleId);
      await store.rebuild(saleId, {
        remaining: 9,
        orders: [
          { id: orderOf.get(users[1])!, userId: users[1], slot: 1, closed: true },
          { id: orderOf.get(users[2])!, userId: users[2], slot: 1, closed: false },
        ],
        sale: row,
      });
      expect(await redis.hexists(bought, users[1])).toBe(0);
      expect(await redis.hexists(bought, users[2])).toBe(1);
    } finally {
      p.api.admitter.start();
    }
  });
});
