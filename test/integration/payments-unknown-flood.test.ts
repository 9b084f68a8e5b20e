import type { Admin } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newOrderId } from "../../apps/core/ids.js";
import { consumerLag } from "../../apps/core/kafka.js";
import { sharedKafkaAdmin } from "../../apps/core/services.js";
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

describe("a flood of payments for orders nobody knows, while the order writer has a backlog", () => {
  it("waits without reading the writer's lag from Kafka for every payment at every retry", async () => {
    const saleId = await p.createSale({ stock: 5, priceCents: 400 });
    await p.writer!.stop();
    try {
      // A backlog: one order in Kafka the stopped writer has not persisted.
      expect((await p.buy(saleId, await p.token("backlog-buyer"))).status).toBe(202);
      await eventually("handed to Kafka", async () => (await p.stats(saleId)).pendingHandoff === 0);

      const admin = (await sharedKafkaAdmin(p.services)()) as Admin;
      const fetchOffsets = admin.fetchOffsets.bind(admin);
      let writerLagReads = 0;
      admin.fetchOffsets = ((args: Parameters<Admin["fetchOffsets"]>[0]) => {
        if (args.groupId === p.services.config.ORDER_WRITER_GROUP_ID) writerLagReads++;
        return fetchOffsets(args);
      }) as Admin["fetchOffsets"];
      try {
        const n = 40;
        const secret = p.services.config.PAYMENT_WEBHOOK_SECRET;
        for (let i = 0; i < n; i++) {
          expect((await simulatePayment({ baseUrl, secret, orderId: newOrderId(), amountCents: 400 }))[0].status).toBe(200);
        }
        await eventually("every payment parked", async () => (await p.metric("seckill_payments_waiting_for_order")) === n, 20_000);
        const before = writerLagReads;
        await sleep(3000); // each parked payment is retried several times meanwhile (200, 400, 800, 1600 ms)
        // The writer's backlog is one fact: read about once a second, not once per payment and retry.
        expect(writerLagReads - before).toBeLessThanOrEqual(6);
      } finally {
        admin.fetchOffsets = fetchOffsets;
      }
    } finally {
      await p.startWriter();
    }
  }, 60_000);

  it("a payment for an order nobody knows ends unknown_order while orders keep arriving (the writer's lag never 0)", async () => {
    const saleId = await p.createSale({ stock: 5000, priceCents: 400 });
    // A writer slower than the buyers: its lag only grows while they buy.
    await p.writer!.stop();
    await p.startWriter({ maxRowsPerSec: 20 });
    let buying = true;
    let bought = 0;
    const buyers = (async () => {
      while (buying) {
        if ((await p.buy(saleId, await p.token(`steady-${bought}`))).status === 202) bought++;
        await sleep(25);
      }
    })();
    try {
      await eventually("orders flowing", () => bought >= 10);
      const orderId = newOrderId();
      const secret = p.services.config.PAYMENT_WEBHOOK_SECRET;
      expect((await simulatePayment({ baseUrl, secret, orderId, amountCents: 400 }))[0].status).toBe(200);
      const row = await p.payment(orderId, 20_000);
      expect(row.outcome).toBe("unknown_order");
      // ...while the writer still had a backlog: "lag 0" would have waited for the buyers to stop.
      const admin = await sharedKafkaAdmin(p.services)();
      expect(await consumerLag(admin, p.services.config.ORDER_WRITER_GROUP_ID, p.services.topics.orders)).toBeGreaterThan(0);
      expect(buying).toBe(true);
    } finally {
      buying = false;
      await buyers;
      await p.writer!.stop();
      await p.startWriter();
    }
  }, 60_000);
});
