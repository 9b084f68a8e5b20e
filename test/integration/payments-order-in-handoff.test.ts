import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { orders } from "../../apps/core/db/schema/index.js";
import { simulatePayment } from "../../apps/payment-simulator/simulate.js";
import { startTestPlatform, type TestPlatform } from "../helpers/platform.js";
import { sleep } from "../helpers/wait.js";

/**
 * A payment whose order is still in Redis's handoff, not yet in Kafka, past the payment's wait:
 * the order writer has passed everything the orders topic holds, but not this order, which Kafka
 * has not received. (The API could not produce it: Kafka's orders partitions away while the
 * payments topic was not, or an outage that ends with the payments consumer faster than the
 * handoff relay.) The payment must wait for it, not end unknown_order and let the paid order expire.
 */
let p: TestPlatform;
let baseUrl: string;
beforeAll(async () => {
  p = await startTestPlatform({
    writer: { maxRowsPerSec: 50_000 },
    lifecycle: true,
    env: { PAYMENT_ORDER_WAIT_MS: "300" },
    // Every accepted order stays in the handoff until the test relays it by hand.
    handoff: { maxInFlight: 0, relayIntervalMs: 3_600_000 },
  });
  baseUrl = await p.listen();
});
afterAll(async () => {
  await p?.stop();
});

describe("a payment past its wait whose order is still in the handoff", () => {
  it("keeps waiting while the handoff holds the order, and is applied once the order reaches MySQL", async () => {
    const saleId = await p.createSale({ stock: 5, priceCents: 400 });
    const userId = "handoff-buyer";
    const res = await p.buy(saleId, await p.token(userId));
    expect(res.status).toBe(202);
    const { orderId } = (await res.json()) as { orderId: string };
    expect((await p.stats(saleId)).pendingHandoff).toBe(1);

    const secret = p.services.config.PAYMENT_WEBHOOK_SECRET;
    expect((await simulatePayment({ baseUrl, secret, orderId, amountCents: 400 }))[0].status).toBe(200);
    await sleep(3000); // ten times the wait: retried past its deadline several times
    expect(await p.payments(orderId)).toHaveLength(0); // not unknown_order: it waits

    // Kafka takes the order at last.
    await p.api.ctx.store.expediteHandoffs(saleId, [{ orderId, userId }]);
    expect(await p.api.ctx.handoff.relayOnce()).toBe(1);
    const applied = await p.payment(orderId, 30_000);
    expect(applied.outcome).toBe("applied");
    const [order] = await p.services.database.db.select().from(orders).where(eq(orders.id, orderId));
    expect(order.status).toBe("paid");
  }, 60_000);
});
