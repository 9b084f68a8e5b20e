import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { orders } from "../../apps/core/db/schema/index.js";
import { newOrderId } from "../../apps/core/ids.js";
import { createSaleStore } from "../../apps/domain/sale-store.js";
import { createPaymentsConsumer } from "../../apps/lifecycle/payments.js";
import { simulatePayment } from "../../apps/payment-simulator/simulate.js";
import { startTestPlatform, type TestPlatform } from "../helpers/platform.js";
import { eventually } from "../helpers/wait.js";

const WAIT_MS = 6000;

let p: TestPlatform;
let baseUrl: string;
let restarted: ReturnType<typeof createPaymentsConsumer> | undefined;
beforeAll(async () => {
  p = await startTestPlatform({ writer: { maxRowsPerSec: 50_000 }, lifecycle: true, env: { PAYMENT_ORDER_WAIT_MS: String(WAIT_MS) } });
  baseUrl = await p.listen();
});
afterAll(async () => {
  await restarted?.stop();
  await p?.stop();
});

const metric = (name: string) => p.metric(name);

describe("a parked payment's deadline survives a restart of the payments consumer", () => {
  it("the payment redelivered to a new consumer ends unknown_order at the deadline counted from its callback, not a full wait after the restart", async () => {
    const saleId = await p.createSale({ stock: 5, priceCents: 400 });
    // An order accepted in Redis that never reaches MySQL: a payment for it waits for the row.
    const ghost = newOrderId();
    await p.services.redis.set(
      p.api.ctx.store.global.order(ghost),
      JSON.stringify({ saleId, userId: "ghost-buyer", acceptedAt: Date.now(), payBy: Date.now() + 900_000 }),
      "EX",
      600,
    );
    const parkedBefore = await metric("seckill_payments_parked_total");
    const sent = Date.now();
    const secret = p.services.config.PAYMENT_WEBHOOK_SECRET;
    expect((await simulatePayment({ baseUrl, secret, orderId: ghost, amountCents: 400 }))[0].status).toBe(200);
    await eventually("parked by the first consumer", async () => (await metric("seckill_payments_parked_total")) > parkedBefore, 20_000);

    // The lifecycle worker restarts half-way through the wait: its parked payment is uncommitted,
    // so the new consumer (a new process: nothing of the old one's parking) reads it again.
    await new Promise((r) => setTimeout(r, Math.max(0, sent + WAIT_MS / 2 - Date.now())));
    await p.lifecycle!.payments.stop();
    expect(await p.payments(ghost)).toHaveLength(0);
    restarted = createPaymentsConsumer(p.services, createSaleStore(p.services.redis, p.services.config.REDIS_KEY_PREFIX));
    await restarted.start();
    await eventually(
      "parked again by the new consumer",
      async () => (await metric("seckill_payments_parked_total")) > parkedBefore + 1,
      30_000,
    );
    const reparked = Date.now();

    const ended = await p.payment(ghost, 30_000);
    const endedAt = Date.now();
    expect(ended.outcome).toBe("unknown_order");
    expect(endedAt - sent).toBeGreaterThanOrEqual(WAIT_MS);
    // Counted from the callback: it ends at sent + WAIT_MS (or at once, if the restart took longer
    // than that), never a whole new wait after the new consumer parked it.
    expect(endedAt - reparked).toBeLessThan(WAIT_MS - 1500);
    await eventually("nothing waits any more", async () => restarted!.waitingForOrder === 0, 5000);
  }, 90_000);

  it("past its deadline, a payment whose order is still in the writer's backlog (an outage longer than the wait) waits for it and is applied", async () => {
    const consumer = restarted ?? p.lifecycle!.payments;
    const saleId = await p.createSale({ stock: 5, priceCents: 400 });
    await p.writer!.stop();
    let orderId: string;
    try {
      const res = await p.buy(saleId, await p.token("backlogged-buyer"));
      expect(res.status).toBe(202);
      orderId = ((await res.json()) as { orderId: string }).orderId;
      const secret = p.services.config.PAYMENT_WEBHOOK_SECRET;
      expect((await simulatePayment({ baseUrl, secret, orderId, amountCents: 400 }))[0].status).toBe(200);
      await eventually("parked", async () => consumer.waitingForOrder === 1, 20_000);
      // Well past the deadline, the writer still down: the order is in Kafka, so no unknown_order.
      await new Promise((r) => setTimeout(r, WAIT_MS + 2000));
      expect(await p.payments(orderId)).toHaveLength(0);
      expect(consumer.waitingForOrder).toBe(1);
    } finally {
      await p.startWriter();
    }
    const applied = await p.payment(orderId, 30_000);
    expect(applied.outcome).toBe("applied");
    const [order] = await p.services.database.db.select().from(orders).where(eq(orders.id, orderId));
    expect(order.status).toBe("paid");
  }, 90_000);
});
