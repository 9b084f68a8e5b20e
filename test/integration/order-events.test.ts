import { and, count, eq, inArray, isNull, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildOpenApiDocument } from "../../apps/contract/document.js";
import { type Order, orderEvents, orders, payments } from "../../apps/core/db/schema/index.js";
import { newOrderId } from "../../apps/core/ids.js";
import { listen } from "../../apps/core/serve.js";
import { applyPayment } from "../../apps/lifecycle/payments.js";
import { loyaltyBalances, loyaltyOrders, loyaltyProcessedEvents } from "../../apps/loyalty/db/schema.js";
import { persistOrders } from "../../apps/order-writer/persist.js";
import { simulatePayment } from "../../apps/payment-simulator/simulate.js";
import { createContractChecker } from "../helpers/contract.js";
import { expectedVersion, ledgerDiff, type Seen, watchTopic } from "../helpers/order-events.js";
import { startTestPlatform, type TestPlatform } from "../helpers/platform.js";
import { eventually, sleep } from "../helpers/wait.js";

let p: TestPlatform;
let baseUrl: string;
let closeHttp: () => Promise<void>;
let watch: Awaited<ReturnType<typeof watchTopic>>;
// The replay route's answers must be what the OpenAPI document says.
const contract = createContractChecker(buildOpenApiDocument({ dev: false }));
beforeAll(async () => {
  p = await startTestPlatform({ writer: { maxRowsPerSec: 50_000 }, lifecycle: true, loyalty: true });
  const http = await listen(p.gateway.app, "127.0.0.1", 0);
  baseUrl = `http://127.0.0.1:${http.port}`;
  closeHttp = http.close;
  watch = await watchTopic(p.services.kafka, p.services.topics.orderEvents);
});
afterAll(async () => {
  await watch.stop();
  await closeHttp();
  await p.stop();
});

const db = () => p.services.database.db;
const orderRows = (saleId: string) => db().select().from(orders).where(eq(orders.saleId, saleId));
const pay = (orderId: string, amountCents: number) =>
  simulatePayment({ baseUrl, secret: p.services.config.PAYMENT_WEBHOOK_SECRET, orderId, amountCents });
const seenOf = (saleId: string) => watch.seen.filter((s) => s.event.saleId === saleId);
const adminPost = (path: string) =>
  p.gateway.app.request(path, { method: "POST", headers: { authorization: `Bearer ${p.services.config.ADMIN_TOKEN}` } });
async function loyaltyCount(outcome: string): Promise<number> {
  const metric = p.services.registry.getSingleMetric("seckill_loyalty_events_total");
  const values = metric ? (await metric.get()).values : [];
  return values.filter((v) => v.labels.outcome === outcome).reduce((s, v) => s + v.value, 0);
}

/**
 * A sale taken through every transition: `stock` buyers; a third pay, a third expire (the first
 * two of those pay late: refund_required), the rest stay pending. Resolves when the ledger
 * agrees with the orders table; returns the orders and how many events the sale must have.
 */
async function runSale(stock: number, tag: string): Promise<{ saleId: string; rows: Order[]; events: number }> {
  const price = 1250;
  const saleId = await p.createSale({ stock, priceCents: price });
  const responses = await Promise.all(Array.from({ length: stock }, async (_, i) => p.buy(saleId, await p.token(`${tag}-${i}`))));
  expect(responses.map((r) => r.status)).toEqual(responses.map(() => 202));
  await eventually(`${stock} rows`, async () => (await orderRows(saleId)).length === stock, 60_000);
  const rows = await orderRows(saleId);
  const third = Math.floor(stock / 3);
  const paying = rows.slice(0, third);
  const expiring = rows.slice(third, 2 * third);
  const late = expiring.slice(0, 2);

  for (const d of (await Promise.all(paying.map((o) => pay(o.id, price)))).flat()) expect(d.status).toBe(200);
  await eventually("paid", async () => (await orderRows(saleId)).filter((o) => o.status === "paid").length === paying.length);
  await db()
    .update(orders)
    .set({ payBy: sql`NOW(3) - INTERVAL 1 SECOND` })
    .where(
      inArray(
        orders.id,
        expiring.map((o) => o.id),
      ),
    );
  await p.lifecycle!.expiry.runOnce();
  for (const d of (await Promise.all(late.map((o) => pay(o.id, price)))).flat()) expect(d.status).toBe(200);
  // A second transaction for a paid order changes no state: it must publish nothing.
  await pay(paying[0].id, price);
  await eventually(
    "every payment recorded",
    async () =>
      Number(
        (
          await db()
            .select({ n: count() })
            .from(payments)
            .where(
              inArray(
                payments.orderId,
                rows.map((r) => r.id),
              ),
            )
        )[0].n,
      ) ===
      paying.length + late.length + 1,
  );
  const final = await orderRows(saleId);
  const events = final.reduce((s, o) => s + expectedVersion(o.status), 0);
  expect(events).toBe(stock + paying.length + expiring.length + late.length);
  await eventually("the ledger agrees with the orders table", async () => (await ledgerDiff(db(), saleId)).length === 0 || null, 60_000);
  return { saleId, rows: final, events };
}

/** The trigger's error, however drizzle wrapped it. */
const injected = (err: unknown) =>
  /injected: order event insert fails/.test(String((err as Error).message) + String((err as { cause?: Error }).cause?.message));

/** Per order, the versions seen on the topic in arrival order (and the partitions they came on). */
function byOrder(seen: Seen[]) {
  const out = new Map<string, { versions: number[]; types: string[]; partitions: Set<number>; ids: string[] }>();
  for (const s of seen) {
    const o = out.get(s.event.orderId) ?? { versions: [], types: [], partitions: new Set(), ids: [] };
    o.versions.push(s.event.version);
    o.types.push(s.event.type);
    o.partitions.add(s.partition);
    o.ids.push(s.event.eventId);
    expect(s.key).toBe(s.event.orderId);
    out.set(s.event.orderId, o);
  }
  return out;
}

describe("order events: outbox, relay and the reference consumer", () => {
  it("a sale with purchases, payments, expiries and a late payment: every order's events arrive in version order, none missing, none applied twice", async () => {
    const { saleId, rows, events } = await runSale(30, "flow");
    await eventually("every event on the topic", () => seenOf(saleId).length >= events);
    await sleep(500); // a duplicate would show up now

    const seen = seenOf(saleId);
    expect(seen).toHaveLength(events);
    const per = byOrder(seen);
    const typesFor: Record<string, string[]> = {
      pending_payment: ["order.created"],
      paid: ["order.created", "order.paid"],
      closed: ["order.created", "order.closed"],
      refund_required: ["order.created", "order.closed", "order.refund_required"],
    };
    for (const o of rows) {
      const got = per.get(o.id);
      const n = expectedVersion(o.status);
      expect({ order: o.id, versions: got?.versions, types: got?.types }).toEqual({
        order: o.id,
        versions: Array.from({ length: n }, (_, i) => i + 1),
        types: typesFor[o.status],
      });
      expect(got!.partitions.size).toBe(1); // one order, one partition: that is what keeps the order
    }
    // Every outbox row went out with its own id, and is marked sent.
    const outbox = await db().select().from(orderEvents).where(eq(orderEvents.saleId, saleId));
    expect(new Set(seen.map((s) => s.event.eventId))).toEqual(new Set(outbox.map((e) => e.eventId)));
    expect(outbox.filter((e) => e.sentAt === null)).toEqual([]);
    // The payload carries the order's facts.
    const paid = seen.find((s) => s.event.type === "order.paid")!.event;
    const row = rows.find((r) => r.id === paid.orderId)!;
    expect(paid).toMatchObject({ saleId, userId: row.userId, amountCents: 1250, version: 2 });
    expect(new Date(paid.occurredAt).getTime()).toBe(row.paidAt!.getTime());

    // The ledger applied each event once: one processed row per event, all applied, none twice.
    const processed = await db()
      .select()
      .from(loyaltyProcessedEvents)
      .where(
        inArray(
          loyaltyProcessedEvents.orderId,
          rows.map((r) => r.id),
        ),
      );
    expect(processed).toHaveLength(events);
    expect(processed.every((r) => r.outcome === "applied")).toBe(true);
    expect(await ledgerDiff(db(), saleId)).toEqual([]);
    // Nothing left to relay: the gauges on-call watches say so.
    await p.lifecycle!.relay.refreshBacklog();
    expect((await p.services.metrics.orderEventsUnsent.get()).values[0].value).toBe(0);
    expect((await p.services.metrics.orderEventsLag.get()).values[0].value).toBe(0);
    expect((await p.services.metrics.orderEventsPublished.get()).values[0].value).toBeGreaterThanOrEqual(events);
  }, 180_000);

  it("replay re-publishes a sale's events; the ledger skips what it has and rebuilds what it lost", async () => {
    const { saleId, rows, events } = await runSale(9, "replay");
    await eventually("first delivery", () => seenOf(saleId).length >= events);
    const duplicatesBefore = await loyaltyCount("duplicate");

    const res = await adminPost(`/admin/sales/${saleId}/events/replay`);
    expect(res.status).toBe(202);
    expect(await contract.check("POST", "/admin/sales/:id/events/replay", res)).toEqual([]);
    expect(await res.json()).toEqual({ saleId, events, orders: rows.length });
    await eventually("the replay on the topic", () => seenOf(saleId).length >= 2 * events);
    await eventually("the ledger skipped every replayed event", async () => (await loyaltyCount("duplicate")) - duplicatesBefore >= events);
    expect(await ledgerDiff(db(), saleId)).toEqual([]);
    const ids = rows.map((r) => r.id);
    const processedCount = async () =>
      Number((await db().select({ n: count() }).from(loyaltyProcessedEvents).where(inArray(loyaltyProcessedEvents.orderId, ids)))[0].n);
    expect(await processedCount()).toBe(events);
    // In replay order per order too: the second copy of each order's events is again 1, 2, ...
    for (const [, o] of byOrder(seenOf(saleId))) {
      const half = o.versions.length / 2;
      expect(o.versions.slice(half)).toEqual(o.versions.slice(0, half));
    }

    // The ledger loses this sale's data; a replay brings it back exactly.
    await db().delete(loyaltyOrders).where(eq(loyaltyOrders.saleId, saleId));
    await db().delete(loyaltyProcessedEvents).where(inArray(loyaltyProcessedEvents.orderId, ids));
    await db()
      .delete(loyaltyBalances)
      .where(
        inArray(
          loyaltyBalances.userId,
          rows.map((r) => r.userId),
        ),
      );
    expect((await ledgerDiff(db(), saleId)).length).toBeGreaterThan(0);
    expect((await adminPost(`/admin/sales/${saleId}/events/replay`)).status).toBe(202);
    await eventually("the ledger rebuilt from the replay", async () => (await ledgerDiff(db(), saleId)).length === 0 || null, 60_000);
    expect(await processedCount()).toBe(events);
  }, 180_000);

  it("replay of an unknown sale is a 404 and needs the admin token", async () => {
    const res = await adminPost("/admin/sales/no-such-sale/events/replay");
    expect(res.status).toBe(404);
    expect(await contract.check("POST", "/admin/sales/:id/events/replay", res)).toEqual([]);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("sale_not_found");
    const anon = await p.gateway.app.request("/admin/sales/no-such-sale/events/replay", { method: "POST" });
    expect(anon.status).toBe(401);
  });

  it("a state change whose event insert fails rolls back: no order row, no payment, no close without its event", async () => {
    const saleId = `fail-${newOrderId().toLowerCase()}`;
    const now = Date.now();
    const message = (i: number) => ({
      v: 1 as const,
      orderId: newOrderId(),
      saleId,
      userId: `u-${i}`,
      slot: 1,
      quantity: 1 as const,
      amountCents: 500,
      acceptedAt: now,
      payBy: now + 600_000,
    });
    const stored = [message(1), message(2)];
    expect((await persistOrders(db(), stored)).inserted).toBe(2); // before the fault: two pending orders
    const pool = p.services.database.pool;
    // Every event insert of this sale fails from now on, as a full disk or a lost table would.
    await pool.query(
      `CREATE TRIGGER order_events_fail_${saleId.replace(/-/g, "_")} BEFORE INSERT ON order_events FOR EACH ROW
       BEGIN IF NEW.sale_id = ? THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'injected: order event insert fails'; END IF; END`.replace(
        "?",
        `'${saleId}'`,
      ),
    );
    try {
      // 1. The writer's batch: no rows.
      const fresh = [message(3), message(4)];
      await expect(persistOrders(db(), fresh)).rejects.toSatisfy(injected);
      // 2. A payment: the order stays pending, no payments row.
      const m = {
        v: 1 as const,
        eventId: `evt-${stored[0].orderId}`,
        orderId: stored[0].orderId,
        providerTxnId: `txn-${stored[0].orderId}`,
        amountCents: 500,
        status: "succeeded" as const,
        receivedAt: Date.now(),
      };
      await expect(applyPayment(p.services, p.api.ctx.store, m)).rejects.toSatisfy(injected);
      // 3. An expiry: the order stays pending.
      await db().update(orders).set({ payBy: sql`NOW(3) - INTERVAL 1 SECOND` }).where(eq(orders.id, stored[1].orderId));
      await expect(p.lifecycle!.expiry.runOnce()).rejects.toSatisfy(injected);

      const after = await orderRows(saleId);
      expect(after.map((o) => [o.id, o.status]).sort()).toEqual(stored.map((s) => [s.orderId, "pending_payment"]).sort());
      expect(await db().select().from(payments).where(eq(payments.orderId, stored[0].orderId))).toEqual([]);
      expect((await db().select().from(orderEvents).where(eq(orderEvents.saleId, saleId))).map((e) => e.type)).toEqual([
        "order.created",
        "order.created",
      ]);

      // The fault gone, the same changes go through, each with exactly one event.
      await pool.query(`DROP TRIGGER order_events_fail_${saleId.replace(/-/g, "_")}`);
      expect((await persistOrders(db(), fresh)).inserted).toBe(2);
      expect(await applyPayment(p.services, p.api.ctx.store, m)).toEqual({ kind: "applied", outcome: "applied" });
      await p.lifecycle!.expiry.runOnce();
      const events = await db().select().from(orderEvents).where(eq(orderEvents.saleId, saleId)).orderBy(orderEvents.seq);
      expect(
        events.map(
          (e) => `${e.orderId === stored[0].orderId ? "a" : e.orderId === stored[1].orderId ? "b" : "new"} ${e.type} v${e.version}`,
        ),
      ).toEqual([
        "a order.created v1",
        "b order.created v1",
        "new order.created v1",
        "new order.created v1",
        "a order.paid v2",
        "b order.closed v2",
      ]);
    } finally {
      await pool.query(`DROP TRIGGER IF EXISTS order_events_fail_${saleId.replace(/-/g, "_")}`);
    }
  });

  it("a redelivered writer batch, partly stored, creates no second event for the stored orders", async () => {
    const saleId = `redeliver-${newOrderId().toLowerCase()}`;
    const now = Date.now();
    const batch = Array.from({ length: 4 }, (_, i) => ({
      v: 1 as const,
      orderId: newOrderId(),
      saleId,
      userId: `u-${i}`,
      slot: 1,
      quantity: 1 as const,
      amountCents: 700,
      acceptedAt: now,
      payBy: now + 600_000,
    }));
    await persistOrders(db(), batch.slice(0, 2));
    const r = await persistOrders(db(), batch); // the 1062 path: two already there
    expect(r).toMatchObject({ inserted: 2, alreadyPersisted: 2 });
    const events = await db()
      .select({ orderId: orderEvents.orderId, n: count() })
      .from(orderEvents)
      .where(eq(orderEvents.saleId, saleId))
      .groupBy(orderEvents.orderId);
    expect(events.map((e) => Number(e.n))).toEqual([1, 1, 1, 1]);
    // And the unsent ones go out with the relay.
    await eventually(
      "sent",
      async () =>
        (
          await db()
            .select()
            .from(orderEvents)
            .where(and(eq(orderEvents.saleId, saleId), isNull(orderEvents.sentAt)))
        ).length === 0,
    );
  });
});
