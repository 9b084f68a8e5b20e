import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { orders } from "../../apps/core/db/schema/index.js";
import { simulatePayment } from "../../apps/payment-simulator/simulate.js";
import { startTestPlatform, type TestPlatform } from "../helpers/platform.js";
import { eventually, sleep } from "../helpers/wait.js";

let p: TestPlatform;
let baseUrl: string;
beforeAll(async () => {
  p = await startTestPlatform({ writer: { maxRowsPerSec: 50_000 }, lifecycle: true, env: { PAYMENT_ORDER_WAIT_MS: "60000" } });
  baseUrl = await p.listen();
});
afterAll(async () => {
  await p?.stop();
});

describe("a payment whose order Redis no longer knows", () => {
  it("waits while the order writer has a backlog (the order may be in it) and is applied once the order is a row", async () => {
    const saleId = await p.createSale({ stock: 5, priceCents: 400 });
    await p.writer!.stop();
    let orderId: string;
    try {
      const res = await p.buy(saleId, await p.token("forgotten-buyer"));
      expect(res.status).toBe(202);
      orderId = ((await res.json()) as { orderId: string }).orderId;
      await eventually("handed to Kafka", async () => (await p.stats(saleId)).pendingHandoff === 0);
      // Redis lost its copy of the accepted order (a restart, a failover, an eviction, or the
      // best-effort write after the 202 failed); the order itself is in Kafka, behind a stopped writer.
      await p.services.redis.del(p.api.ctx.store.global.order(orderId));
      const secret = p.services.config.PAYMENT_WEBHOOK_SECRET;
      expect((await simulatePayment({ baseUrl, secret, orderId, amountCents: 400 }))[0].status).toBe(200);
      await sleep(3000);
      expect(await p.payments(orderId)).toHaveLength(0); // not unknown_order: it waits
    } finally {
      await p.startWriter();
    }
    const applied = await p.payment(orderId, 30_000);
    expect(applied.outcome).toBe("applied");
    const [order] = await p.services.database.db.select().from(orders).where(eq(orders.id, orderId));
    expect(order.status).toBe("paid");
  }, 60_000);
});
