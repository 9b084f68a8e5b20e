import { eq } from "drizzle-orm";
import type { KafkaMessage } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { orders } from "../../apps/core/db/schema/index.js";
import { newOrderId } from "../../apps/core/ids.js";
import { consumerTiming, createConsumer, createProducer, type Producer } from "../../apps/core/kafka.js";
import type { Services } from "../../apps/core/services.js";
import type { OrderMessage } from "../../apps/domain/order-message.js";
import { createOrderWriter, type OrderWriter } from "../../apps/order-writer/writer.js";
import { randomId, testServices } from "../helpers/env.js";
import { eventually, sleep } from "../helpers/wait.js";

let services: Services;
let writer: OrderWriter;
let producer: Producer;
const dlq: KafkaMessage[] = [];
let stopDlq: () => Promise<void>;

beforeAll(async () => {
  services = await testServices();
  writer = createOrderWriter(services, { maxRowsPerSec: 50_000 });
  producer = createProducer(services.kafka);
  await Promise.all([writer.start(), producer.connect()]);
  const reader = createConsumer(services.kafka, { groupId: randomId("dlq-reader-"), ...consumerTiming(services.config) });
  await reader.connect();
  await reader.subscribe({ topic: services.topics.ordersDlq, fromBeginning: true });
  await reader.run({ eachMessage: async ({ message }) => void dlq.push(message) });
  stopDlq = () => reader.disconnect();
  await writer.ready();
});
afterAll(async () => {
  await writer.stop();
  await stopDlq();
  await producer.disconnect();
  await services.close();
});

function message(saleId: string, i: number, over: Partial<OrderMessage> = {}): OrderMessage {
  const now = Date.now();
  return {
    v: 1,
    orderId: newOrderId(),
    saleId,
    userId: `user-${i}`,
    slot: 1,
    quantity: 1,
    amountCents: 500,
    acceptedAt: now,
    payBy: now + 900_000,
    ...over,
  };
}

const send = (values: (string | OrderMessage)[]) =>
  producer.send({
    topic: services.topics.orders,
    acks: -1,
    messages: values.map((v) => ({ value: typeof v === "string" ? v : JSON.stringify(v), key: typeof v === "string" ? "x" : v.orderId })),
  });

const rowsOf = (saleId: string) => services.database.db.select().from(orders).where(eq(orders.saleId, saleId));

function shuffle<T>(xs: T[]): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

describe("order writer", () => {
  it("every message of a sale delivered twice, shuffled, leaves exactly one row per order", async () => {
    const saleId = randomId("w-");
    const msgs = Array.from({ length: 300 }, (_, i) => message(saleId, i));
    await send(shuffle([...msgs, ...msgs]));
    await eventually("300 rows", async () => (await rowsOf(saleId)).length === 300);
    // And a whole replay later changes nothing.
    const already = (await services.metrics.ordersAlreadyPersisted.get()).values[0]?.value ?? 0;
    await send(shuffle(msgs));
    await eventually(
      "the replay was consumed",
      async () => ((await services.metrics.ordersAlreadyPersisted.get()).values[0]?.value ?? 0) >= already + 300,
    );
    const rows = await rowsOf(saleId);
    expect(rows).toHaveLength(300);
    expect(new Set(rows.map((r) => r.id))).toEqual(new Set(msgs.map((m) => m.orderId)));
    const r0 = rows.find((r) => r.id === msgs[0].orderId)!;
    expect(r0).toMatchObject({ status: "pending_payment", userId: "user-0", liveSlot: 1, amountCents: 500, quantity: 1 });
    expect(r0.payBy.getTime()).toBe(msgs[0].payBy);
  });

  it("a malformed message goes to the DLQ with its reason; the valid ones around it are persisted", async () => {
    const saleId = randomId("w-");
    const before = message(saleId, 1);
    const after = message(saleId, 2);
    const wrongShape = { ...message(saleId, 3), quantity: 7 };
    await send([before, "{not json", wrongShape as unknown as OrderMessage, after]);
    await eventually("the valid two persisted", async () => (await rowsOf(saleId)).length === 2);
    const mine = await eventually("two dead letters", () => {
      const found = dlq.filter((m) => String(m.value).includes(wrongShape.orderId) || String(m.value) === "{not json");
      return found.length === 2 ? found : null;
    });
    const reasons = mine.map((m) => String(m.headers?.reason)).sort();
    expect(reasons).toEqual(["invalid_json", "invalid_message"]);
    const shape = mine.find((m) => String(m.headers?.reason) === "invalid_message")!;
    expect(String(shape.headers?.detail)).toMatch(/quantity/);
    expect(String(shape.headers?.["source-topic"])).toBe(services.topics.orders);
    expect((await rowsOf(saleId)).map((r) => r.id).sort()).toEqual([before.orderId, after.orderId].sort());
  });

  it("a row MySQL keeps rejecting goes to the DLQ after 5 attempts and does not block its partition", async () => {
    const saleId = randomId("w-");
    // A pay-by date MySQL cannot store (year 275,000): valid JSON and schema, refused by the server.
    const poison = message(saleId, 1, { payBy: 8.6e15 });
    const fine = Array.from({ length: 5 }, (_, i) => message(saleId, 10 + i));
    // Same key, same partition: the healthy messages queue behind the poison one.
    await producer.send({
      topic: services.topics.orders,
      acks: -1,
      messages: [poison, ...fine].map((m) => ({ key: "same-partition", value: JSON.stringify(m) })),
    });
    await eventually("the healthy orders persisted", async () => (await rowsOf(saleId)).length === 5);
    const dead = await eventually("the poison dead-lettered", () => dlq.find((m) => String(m.value).includes(poison.orderId)));
    expect(String(dead.headers?.reason)).toBe("db_rejected");
    expect(String(dead.headers?.detail)).toMatch(/5 times/);
  });

  it("a second live order for the same user and slot is refused by the unique key and dead-lettered, not counted as done", async () => {
    const saleId = randomId("w-");
    const first = message(saleId, 1, { userId: "twice" });
    const second = message(saleId, 2, { userId: "twice" });
    await send([first]);
    await eventually("first persisted", async () => (await rowsOf(saleId)).length === 1);
    await send([second]);
    const dead = await eventually("the second dead-lettered", () => dlq.find((m) => String(m.value).includes(second.orderId)));
    expect(String(dead.headers?.reason)).toBe("user_slot_taken");
    expect(String(dead.headers?.detail)).toMatch(new RegExp(`sale ${saleId}.*user twice`));
    await sleep(300);
    expect((await rowsOf(saleId)).map((r) => r.id)).toEqual([first.orderId]);
  });
});
