import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KafkaMock } from "../../infra/kafka-mock/launch.js";
import { kafkaControl, privateKafka } from "../helpers/env.js";
import { startTestPlatform, type TestPlatform } from "../helpers/platform.js";
import { eventually, sleep } from "../helpers/wait.js";

let p: TestPlatform;
let kafka: KafkaMock;
beforeAll(async () => {
  kafka = await privateKafka(3);
  p = await startTestPlatform({ kafka, writer: true, handoff: { relayIntervalMs: 500, relayLeaseMs: 3000 } });
});
afterAll(async () => {
  await p.stop();
  await kafka.stop();
});

const value = async (c: { get(): Promise<{ values: { value: number }[] }> }) => (await c.get()).values.reduce((s, v) => s + v.value, 0);

describe("the Kafka handoff while every broker is down", () => {
  it("keeps accepting, loses nothing when kafkajs gives up, and drains the backlog once Kafka is back", async () => {
    const control = kafkaControl(kafka);
    const saleId = await p.createSale({ stock: 300 });
    const failuresBefore = await value(p.services.metrics.handoffFailures);
    await control.brokerDown(-1);
    let accepted: string[] = [];
    try {
      const responses = await Promise.all(Array.from({ length: 150 }, async (_, i) => p.buy(saleId, await p.token(`outage-${i}`))));
      expect(responses.map((r) => r.status)).toEqual(Array(150).fill(202));
      accepted = await Promise.all(responses.map(async (r) => ((await r.json()) as { orderId: string }).orderId));
      // Long enough for kafkajs to give up on the first sends (its retries last about 6 s).
      await eventually(
        "kafkajs gave up on a send",
        async () => (await value(p.services.metrics.handoffFailures)) > failuresBefore,
        30_000,
        200,
      );
      await sleep(2000);
      expect((await p.stats(saleId)).pendingHandoff).toBe(150);
      expect(await p.rows(saleId)).toBe(0);
    } finally {
      await control.brokerUp(-1);
      control.close();
    }
    await eventually("every accepted order persisted after Kafka came back", async () => (await p.rows(saleId)) === 150, 90_000, 250);
    await eventually("the handoff backlog drained", async () => (await p.stats(saleId)).pendingHandoff === 0, 30_000);
    expect(await value(p.services.metrics.handoffRepublished)).toBeGreaterThanOrEqual(150);
    expect(accepted).toHaveLength(150);
  }, 150_000);
});
