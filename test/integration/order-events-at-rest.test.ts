import { and, count, eq, inArray, isNull, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { orderEvents, orders } from "../../apps/core/db/schema/index.js";
import { listen } from "../../apps/core/serve.js";
import { sharedKafkaAdmin } from "../../apps/core/services.js";
import { createSaleStore } from "../../apps/domain/sale-store.js";
import { createPaymentsConsumer } from "../../apps/lifecycle/payments.js";
import { simulatePayment } from "../../apps/payment-simulator/simulate.js";
import { compareEvents, ledgerDiff, readTopicWhole, saleSnapshot, unsettled } from "../helpers/order-events.js";
import { startTestPlatform, type TestPlatform } from "../helpers/platform.js";
import { eventually } from "../helpers/wait.js";

// Chaos scenario 10 compared the topic with the orders table as soon as the loyalty ledger
// equalled the orders table and the outbox was empty. Both hold while a payment the API accepted
// still waits in Kafka for a slow lifecycle worker (or an order past its pay-by waits for the
// expiry pass): the order changed after the comparison and its new event counted as missing.

let p: TestPlatform;
let baseUrl: string;
let closeHttp: () => Promise<void>;
let extraConsumer: { stop(): Promise<void> } | undefined;
beforeAll(async () => {
  p = await startTestPlatform({ writer: { maxRowsPerSec: 50_000 }, lifecycle: true, loyalty: true });
  const http = await listen(p.gateway.app, "127.0.0.1", 0);
  baseUrl = `http://127.0.0.1:${http.port}`;
  closeHttp = http.close;
});
afterAll(async () => {
  await extraConsumer?.stop();
  await closeHttp();
  await p.stop();
});

const db = () => p.services.database.db;
async function deps() {
  return {
    db: db(),
    admin: await sharedKafkaAdmin(p.services)(),
    paymentsGroupId: `${p.services.config.ORDER_WRITER_GROUP_ID}-payments`,
    paymentsTopic: p.services.topics.payments,
  };
}
async function unsentOf(saleId: string): Promise<number> {
  const [r] = await db()
    .select({ n: count() })
    .from(orderEvents)
    .where(and(eq(orderEvents.saleId, saleId), isNull(orderEvents.sentAt)));
  return Number(r.n);
}

describe("a sale at rest for an end-to-end comparison of its order events", () => {
  it("is not at rest while a paid callback waits in Kafka or a due order waits for expiry, though the ledger equals the orders table and the outbox is empty", async () => {
    const price = 700;
    const saleId = await p.createSale({ stock: 3, priceCents: price });
    for (let i = 0; i < 3; i++) expect((await p.buy(saleId, await p.token(`rest-${saleId}-${i}`))).status).toBe(202);
    await eventually("3 rows", async () => (await p.rows(saleId)) === 3, 60_000);
    await eventually("at rest after the purchases", async () => (await unsettled(await deps(), saleId)).length === 0, 60_000);
    const [toPay, toExpire] = await db().select().from(orders).where(eq(orders.saleId, saleId));

    // The lifecycle worker falls behind: its payments consumer is away.
    await p.lifecycle!.payments.stop();
    const [d] = await simulatePayment({ baseUrl, secret: p.services.config.PAYMENT_WEBHOOK_SECRET, orderId: toPay.id, amountCents: price });
    expect(d.status).toBe(200);
    await db()
      .update(orders)
      .set({ payBy: sql`NOW(3) - INTERVAL 1 SECOND` })
      .where(inArray(orders.id, [toExpire.id]));

    // What the scenario used to wait for holds already...
    expect(await ledgerDiff(db(), saleId)).toEqual([]);
    expect(await unsentOf(saleId)).toBe(0);
    // ...but the sale is still moving.
    const moving = await unsettled(await deps(), saleId);
    expect(moving).toContain("1 payment(s) not applied yet");
    expect(moving).toContain("1 order(s) past their pay-by still pending");

    // The worker catches up: then, and only then, the comparison holds every change and its event.
    const payments = createPaymentsConsumer(p.services, createSaleStore(p.services.redis, p.services.config.REDIS_KEY_PREFIX));
    extraConsumer = payments;
    await payments.start();
    await p.lifecycle!.expiry.runOnce();
    await eventually("at rest after the payment and the expiry", async () => (await unsettled(await deps(), saleId)).length === 0, 60_000);

    const snapshot = await saleSnapshot(db(), saleId);
    expect(new Map(snapshot.rows.map((r) => [r.id, r.status])).get(toPay.id)).toBe("paid");
    expect(new Map(snapshot.rows.map((r) => [r.id, r.status])).get(toExpire.id)).toBe("closed");
    const topic = await readTopicWhole(p.services.kafka, await sharedKafkaAdmin(p.services)(), p.services.topics.orderEvents);
    expect(topic.complete).toBe(true);
    const cmp = compareEvents(snapshot, topic.seen);
    expect(cmp).toMatchObject({ messages: 5, outOfOrder: 0, missing: 0, outboxWrong: 0, strays: 0, problems: [] });
  }, 180_000);
});
