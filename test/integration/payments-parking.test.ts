import { eq, inArray } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { orders, payments } from "../../apps/core/db/schema/index.js";
import { newOrderId } from "../../apps/core/ids.js";
import { consumerLag } from "../../apps/core/kafka.js";
import { sharedKafkaAdmin } from "../../apps/core/services.js";
import { simulatePayment } from "../../apps/payment-simulator/simulate.js";
import { startTestPlatform, type TestPlatform } from "../helpers/platform.js";
import { eventually } from "../helpers/wait.js";

const WAIT_MS = 3000;

let p: TestPlatform;
let baseUrl: string;
beforeAll(async () => {
  p = await startTestPlatform({ writer: { maxRowsPerSec: 50_000 }, lifecycle: true, env: { PAYMENT_ORDER_WAIT_MS: String(WAIT_MS) } });
  baseUrl = await p.listen();
});
afterAll(async () => {
  await p?.stop();
});

const metric = (name: string) => p.metric(name);

describe("the payments consumer never blocks on one order", () => {
  it("a payment for an order that never becomes a row waits on its own; the payments behind it are applied; it ends unknown_order after the deadline", async () => {
    const saleId = await p.createSale({ stock: 20, priceCents: 400 });
    const n = 12;
    for (let i = 0; i < n; i++) expect((await p.buy(saleId, await p.token(`parker-${i}`))).status).toBe(202);
    await eventually(`${n} rows`, async () => (await p.rows(saleId)) === n, 30_000);
    const valid = await p.services.database.db.select().from(orders).where(eq(orders.saleId, saleId));

    // An order accepted in Redis that never reached MySQL (say its message was dead-lettered):
    // its status key is there, so a payment for it waits for the row.
    const ghost = newOrderId();
    await p.services.redis.set(
      p.api.ctx.store.global.order(ghost),
      JSON.stringify({ saleId, userId: "ghost-buyer", acceptedAt: Date.now(), payBy: Date.now() + 900_000 }),
      "EX",
      600,
    );
    const secret = p.services.config.PAYMENT_WEBHOOK_SECRET;
    const sent = Date.now();
    expect((await simulatePayment({ baseUrl, secret, orderId: ghost, amountCents: 400 }))[0].status).toBe(200);
    // Every other payment comes after it, on both partitions of seckill.payments.
    for (const o of valid) expect((await simulatePayment({ baseUrl, secret, orderId: o.id, amountCents: 400 }))[0].status).toBe(200);

    await eventually(
      "every valid payment applied",
      async () => {
        const rows = await p.services.database.db.select({ status: orders.status }).from(orders).where(eq(orders.saleId, saleId));
        return rows.every((r) => r.status === "paid");
      },
      20_000,
    );
    // While it waits it is counted, and it is not recorded yet (unless the machine was slow enough to pass its deadline already).
    expect(await metric("seckill_payments_parked_total")).toBe(1);
    if (Date.now() - sent < WAIT_MS - 500) {
      expect(await metric("seckill_payments_waiting_for_order")).toBe(1);
      expect(await p.payments(ghost)).toHaveLength(0);
    }

    const ended = await p.payment(ghost, 30_000);
    expect(ended.outcome).toBe("unknown_order");
    expect(Date.now() - sent).toBeGreaterThanOrEqual(WAIT_MS);
    // The row is written just before the parking lets go of it.
    await eventually("nothing waits any more", async () => (await metric("seckill_payments_waiting_for_order")) === 0, 5000);
    expect(await p.services.registry.metrics()).toMatch(/seckill_payments_total\{outcome="unknown_order"\} 1\b/);
    const applied = await p.services.database.db
      .select()
      .from(payments)
      .where(
        inArray(
          payments.orderId,
          valid.map((o) => o.id),
        ),
      );
    expect(applied.map((x) => x.outcome)).toEqual(valid.map(() => "applied"));
    // Settled, its offset is committed: nothing is left for a restart to redeliver.
    const groupId = `${p.services.config.ORDER_WRITER_GROUP_ID}-payments`;
    await eventually(
      "payments offsets committed",
      async () => (await consumerLag(await sharedKafkaAdmin(p.services)(), groupId, p.services.topics.payments)) === 0,
      10_000,
    );
  });
});
