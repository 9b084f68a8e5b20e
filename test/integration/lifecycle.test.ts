import { eq, inArray, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { orders, payments } from "../../apps/core/db/schema/index.js";
import { listen } from "../../apps/core/serve.js";
import { applyPayment } from "../../apps/lifecycle/payments.js";
import { simulatePayment } from "../../apps/payment-simulator/simulate.js";
import { startTestPlatform, type TestPlatform } from "../helpers/platform.js";
import { eventually, sleep } from "../helpers/wait.js";

let p: TestPlatform;
let baseUrl: string;
let closeHttp: () => Promise<void>;
beforeAll(async () => {
  p = await startTestPlatform({ writer: { maxRowsPerSec: 50_000 }, lifecycle: true, env: { MAX_INFLIGHT_PURCHASES: "100000" } });
  const http = await listen(p.gateway.app, "127.0.0.1", 0);
  baseUrl = `http://127.0.0.1:${http.port}`;
  closeHttp = http.close;
});
afterAll(async () => {
  await closeHttp();
  await p.stop();
});

const db = () => p.services.database.db;
const orderRows = (saleId: string) => db().select().from(orders).where(eq(orders.saleId, saleId));

/** n buyers buy; resolves when all n orders are rows. */
async function soldOrders(saleId: string, n: number, tag: string) {
  const responses = await Promise.all(Array.from({ length: n }, async (_, i) => p.buy(saleId, await p.token(`${tag}-${i}`))));
  expect(responses.filter((r) => r.status !== 202).map((r) => r.status)).toEqual([]);
  await eventually(`${n} rows`, async () => (await orderRows(saleId)).length === n, 60_000);
  return orderRows(saleId);
}

/** Makes one order due and runs an expiry pass (what the worker's timer does). */
async function expire(orderId: string) {
  await db().update(orders).set({ payBy: sql`NOW(3) - INTERVAL 1 SECOND` }).where(eq(orders.id, orderId));
  await p.lifecycle!.expiry.runOnce();
}

const pay = (orderId: string, amountCents: number, extra: Partial<Parameters<typeof simulatePayment>[0]> = {}) =>
  simulatePayment({ baseUrl, secret: p.services.config.PAYMENT_WEBHOOK_SECRET, orderId, amountCents, ...extra });

describe("order lifecycle: payments, expiry, stock return", () => {
  it("1,000 orders with the payment and the expiry 0-50 ms apart in random order: one final state each, stock back exactly for the closed", async () => {
    const saleId = await p.createSale({ stock: 1000, priceCents: 700 });
    const rows = await soldOrders(saleId, 1000, "race");
    // One in ten pays with a failed card: those must end closed.
    const failing = new Set(rows.filter((_, i) => i % 10 === 0).map((r) => r.id));
    // Half go the whole way (signed HTTP callback -> Kafka -> payments consumer); the other half
    // race the consumer's own unit of work against the expiry right at MySQL, so both orders of
    // arrival really happen.
    const direct = new Set(rows.filter((_, i) => i % 2 === 1).map((r) => r.id));
    await Promise.all(
      rows.map(async (r) => {
        await sleep(Math.random() * 1500);
        const gap = Math.random() * 50;
        const status = failing.has(r.id) ? ("failed" as const) : ("succeeded" as const);
        const payment = async () => {
          if (direct.has(r.id)) {
            const m = {
              v: 1 as const,
              eventId: `evt-${r.id}`,
              orderId: r.id,
              providerTxnId: `txn-${r.id}`,
              amountCents: 700,
              status,
              receivedAt: Date.now(),
            };
            expect((await applyPayment(p.services, p.api.ctx.store, m)).kind).toBe("applied");
          } else {
            const [d] = await pay(r.id, 700, { status });
            expect(d.status).toBe(200);
          }
        };
        if (Math.random() < 0.5) await Promise.all([payment(), sleep(gap).then(() => expire(r.id))]);
        else await Promise.all([expire(r.id), sleep(gap).then(payment)]);
      }),
    );
    await eventually(
      "every payment event applied",
      async () => {
        const [n] = await db()
          .select({ n: sql<number>`COUNT(*)` })
          .from(payments)
          .where(
            inArray(
              payments.orderId,
              rows.map((r) => r.id),
            ),
          );
        return Number(n.n) === 1000;
      },
      60_000,
    );
    await p.lifecycle!.expiry.runOnce(); // any release still owed

    const final = await orderRows(saleId);
    const by = (s: string) => final.filter((o) => o.status === s);
    expect(by("pending_payment")).toEqual([]);
    expect(final.every((o) => ["paid", "closed", "refund_required"].includes(o.status))).toBe(true);
    // A failed payment never pays; a successful one pays unless the close won, and then must be refunded.
    for (const o of final) {
      if (failing.has(o.id)) expect(o.status).toBe("closed");
      else expect(["paid", "refund_required"]).toContain(o.status);
    }
    const closedOnes = [...by("closed"), ...by("refund_required")];
    expect(closedOnes.every((o) => o.releasedAt !== null && o.liveSlot === null)).toBe(true);
    expect(by("paid").every((o) => o.closedAt === null && o.releasedAt === null)).toBe(true);
    const k = p.api.ctx.store.keys(saleId);
    expect(Number(await p.services.redis.get(k.stock))).toBe(1000 - by("paid").length); // remaining + live = preloaded
    expect(await p.services.redis.scard(k.released)).toBe(closedOnes.length); // returned exactly for the closed
    expect(await p.services.redis.hlen(k.buyers)).toBe(by("paid").length);
    const pays = await db()
      .select()
      .from(payments)
      .where(
        inArray(
          payments.orderId,
          final.map((o) => o.id),
        ),
      );
    const outcomeOf = new Map(pays.map((x) => [x.orderId, x.outcome]));
    for (const o of by("paid")) expect(outcomeOf.get(o.id)).toBe("applied");
    for (const o of by("refund_required")) expect(outcomeOf.get(o.id)).toBe("refund_required");
    console.log(
      `[figure] race of 1,000: ${by("paid").length} paid, ${by("refund_required").length} refund_required, ${by("closed").length} closed`,
    );
    // Both outcomes of the race occurred, so both paths were exercised.
    expect(by("paid").length).toBeGreaterThan(50);
    expect(by("refund_required").length).toBeGreaterThan(50);
  }, 180_000);

  it("the same callback 20 times, 5 at once, to two server instances: one payments row, one state change", async () => {
    const saleId = await p.createSale({ stock: 3, priceCents: 1234 });
    const [order] = await soldOrders(saleId, 1, "dup");
    const other = await startTestPlatform({
      env: { REDIS_KEY_PREFIX: p.services.config.REDIS_KEY_PREFIX, KAFKA_TOPIC_PREFIX: p.services.config.KAFKA_TOPIC_PREFIX },
    });
    const http2 = await listen(other.gateway.app, "127.0.0.1", 0);
    try {
      const common = {
        secret: p.services.config.PAYMENT_WEBHOOK_SECRET,
        orderId: order.id,
        amountCents: 1234,
        eventId: "evt-dup-1",
        providerTxnId: `txn-${order.id}`,
      };
      const applied = async () =>
        (await p.services.metrics.payments.get()).values.filter((v) => v.labels.outcome === "applied").reduce((s, v) => s + v.value, 0);
      const before = await applied();
      const a = simulatePayment({ ...common, baseUrl, copies: 10, concurrent: 5 });
      const b = simulatePayment({ ...common, baseUrl: `http://127.0.0.1:${http2.port}`, copies: 10, concurrent: 1 });
      const deliveries = [...(await a), ...(await b)];
      expect(deliveries).toHaveLength(20);
      expect(deliveries.every((d) => d.status === 200 && d.body === '{"received":true}')).toBe(true);
      await eventually("paid", async () => (await orderRows(saleId))[0].status === "paid");
      await sleep(1000);
      expect(await db().select().from(payments).where(eq(payments.orderId, order.id))).toHaveLength(1);
      expect((await applied()) - before).toBe(1);
    } finally {
      await http2.close();
      await other.stop();
    }
  });

  it("bad signature, old timestamp, malformed body, unknown order, wrong amount: the right answer or record, and no state change", async () => {
    const saleId = await p.createSale({ stock: 3, priceCents: 500 });
    const [order] = await soldOrders(saleId, 1, "bad");
    const secret = p.services.config.PAYMENT_WEBHOOK_SECRET;
    const codeOf = (d: { body: string }) => (JSON.parse(d.body) as { error: { code: string } }).error.code;

    const [forged] = await simulatePayment({ baseUrl, secret: "not-the-secret-at-all", orderId: order.id, amountCents: 500 });
    expect([forged.status, codeOf(forged)]).toEqual([401, "bad_signature"]);
    const [stale] = await pay(order.id, 500, { clockSkewS: -301 });
    expect([stale.status, codeOf(stale)]).toEqual([401, "bad_signature"]);
    const unsigned = await fetch(`${baseUrl}/api/payments/callback`, { method: "POST", body: "{}" });
    expect(unsigned.status).toBe(401);
    const ts = Math.floor(Date.now() / 1000);
    const { signPayment } = await import("../../apps/domain/payment-event.js");
    const malformed = await fetch(`${baseUrl}/api/payments/callback`, {
      method: "POST",
      headers: { "x-timestamp": String(ts), "x-signature": signPayment(secret, ts, '{"orderId":"x"}') },
      body: '{"orderId":"x"}',
    });
    expect(malformed.status).toBe(400);

    const unknownId = "01ZZZZZZZZZZZZZZZZZZZZZZZZ";
    const [unknown] = await pay(unknownId, 500, { providerTxnId: `txn-unknown-${order.id}` });
    expect(unknown.status).toBe(200);
    const [wrong] = await pay(order.id, 499, { providerTxnId: `txn-wrong-${order.id}` });
    expect(wrong.status).toBe(200);
    await eventually(
      "both recorded",
      async () =>
        (
          await db()
            .select()
            .from(payments)
            .where(inArray(payments.providerTxnId, [`txn-unknown-${order.id}`, `txn-wrong-${order.id}`]))
        ).length === 2,
    );
    const recorded = await db()
      .select()
      .from(payments)
      .where(inArray(payments.providerTxnId, [`txn-unknown-${order.id}`, `txn-wrong-${order.id}`]));
    expect(Object.fromEntries(recorded.map((r) => [r.providerTxnId.split("-")[1], r.outcome]))).toEqual({
      unknown: "unknown_order",
      wrong: "amount_mismatch",
    });
    expect((await orderRows(saleId))[0].status).toBe("pending_payment");
    expect(await db().select().from(payments).where(eq(payments.orderId, order.id))).toHaveLength(1); // only the mismatch
  });

  it("expiry returns the stock and a sold-out sale takes a new buyer through the gateway within a second", async () => {
    const saleId = await p.createSale({ stock: 1 });
    const [order] = await soldOrders(saleId, 1, "solo");
    const late = await p.token("late-comer");
    await eventually("sold out at the gateway", () => p.gateway.soldOut.isSoldOut(saleId));
    expect((await p.buy(saleId, late)).status).toBe(410);

    await expire(order.id);
    const released = Date.now();
    let last = 0;
    const ok = await eventually(
      "the late comer buys",
      async () => {
        const r = await p.buy(saleId, late);
        last = r.status;
        if (r.status !== 202 && r.status !== 410) console.log("late comer got", r.status, await r.text());
        return r.status === 202 || null;
      },
      5000,
      20,
    ).catch((err) => {
      throw new Error(`${(err as Error).message}; last status ${last}`);
    });
    const took = Date.now() - released;
    expect(ok).toBe(true);
    expect(took).toBeLessThan(1000);
    const [closed] = (await orderRows(saleId)).filter((o) => o.id === order.id);
    expect(closed).toMatchObject({ status: "closed", liveSlot: null });
    expect(closed.releasedAt).not.toBeNull();
    // The first buyer's slot is free again too: the unique key lets them buy anew after the close.
    expect(Number(await p.services.redis.get(p.api.ctx.store.keys(saleId).stock))).toBe(0);
  });

  it("a payment arriving before the order writer stored the order waits for it instead of being lost", async () => {
    const saleId = await p.createSale({ stock: 2, priceCents: 300 });
    // Stop the writer so the order stays queued (in Redis and Kafka, not MySQL).
    await p.writer!.stop();
    try {
      const res = await p.buy(saleId, await p.token("early-payer"));
      const { orderId } = (await res.json()) as { orderId: string };
      const [d] = await pay(orderId, 300);
      expect(d.status).toBe(200);
      await sleep(1500);
      expect(await db().select().from(payments).where(eq(payments.orderId, orderId))).toHaveLength(0);
      // The writer comes back (a fresh one, same group): the order lands, then the payment applies.
      const { createOrderWriter } = await import("../../apps/order-writer/writer.js");
      p.writer = createOrderWriter(p.services, { maxRowsPerSec: 50_000 });
      await p.writer.start();
      await eventually("paid once stored", async () => (await orderRows(saleId))[0]?.status === "paid", 30_000);
    } finally {
      // stop() in afterAll stops whichever writer is current
    }
  });
});
