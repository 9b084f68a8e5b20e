import type { Consumer, EachBatchPayload } from "kafkajs";
import { afterEach, describe, expect, it } from "vitest";
import { consumerTiming, createConsumer, createProducer } from "../../apps/core/kafka.js";
import type { Services } from "../../apps/core/services.js";
import { API_KEY, KAFKA_ERROR } from "../../infra/kafka-mock/control.js";
import type { KafkaMock } from "../../infra/kafka-mock/launch.js";
import { kafkaControl, privateKafka, randomId, testServices } from "../helpers/env.js";
import { eventually } from "../helpers/wait.js";

const open: { close(): Promise<unknown> }[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

async function services(kafka?: KafkaMock): Promise<Services> {
  const s = await testServices({}, kafka);
  open.push(s);
  return s;
}

/** Runs a consumer that records every value and commits each batch's offsets after "processing" it. */
async function recordingConsumer(s: Services, groupId: string, seen: string[]): Promise<Consumer> {
  const consumer = createConsumer(s.kafka, { groupId, ...consumerTiming(s.config) });
  open.push({ close: () => consumer.disconnect() });
  await consumer.connect();
  await consumer.subscribe({ topic: s.topics.orders, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch }: EachBatchPayload) => {
      for (const m of batch.messages) seen.push(String(m.value));
      await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: String(Number(batch.lastOffset()) + 1) }]);
    },
  });
  return consumer;
}

describe("kafka on the embedded mock cluster", () => {
  it("a producer and a consumer group round-trip messages across partitions", async () => {
    const s = await services();
    const producer = createProducer(s.kafka);
    open.push({ close: () => producer.disconnect() });
    await producer.connect();
    const sent = Array.from({ length: 300 }, (_, i) => `m${i}`);
    await producer.send({ topic: s.topics.orders, acks: -1, messages: sent.map((v) => ({ key: v, value: v })) });

    const seen: string[] = [];
    await recordingConsumer(s, randomId("g-"), seen);
    await eventually("all 300 messages consumed", () => seen.length >= 300);
    expect([...seen].sort()).toEqual([...sent].sort());
  });

  it("a restarted consumer resumes from the committed offsets: nothing again, nothing skipped", async () => {
    const s = await services();
    const producer = createProducer(s.kafka);
    open.push({ close: () => producer.disconnect() });
    await producer.connect();
    const groupId = randomId("g-");
    const first = Array.from({ length: 50 }, (_, i) => `a${i}`);
    await producer.send({ topic: s.topics.orders, acks: -1, messages: first.map((v) => ({ key: v, value: v })) });

    const seenBefore: string[] = [];
    const c1 = await recordingConsumer(s, groupId, seenBefore);
    await eventually("first 50 consumed", () => seenBefore.length >= 50);
    await c1.disconnect();

    const second = Array.from({ length: 20 }, (_, i) => `b${i}`);
    await producer.send({ topic: s.topics.orders, acks: -1, messages: second.map((v) => ({ key: v, value: v })) });
    const seenAfter: string[] = [];
    await recordingConsumer(s, groupId, seenAfter);
    await eventually("the 20 new messages consumed", () => seenAfter.length >= 20);
    // Give a wrongly rewound consumer time to show itself.
    await new Promise((r) => setTimeout(r, 500));
    expect([...seenAfter].sort()).toEqual([...second].sort());
  });

  it("the launcher's fault injection takes every broker down and back up", async () => {
    const mock = await privateKafka();
    open.push({ close: () => mock.stop() });
    const s = await services(mock);
    const control = kafkaControl(mock);
    open.push({ close: async () => control.close() });
    const producer = s.kafka.producer({ allowAutoTopicCreation: false, retry: { retries: 1, initialRetryTime: 100 } });
    open.push({ close: () => producer.disconnect() });
    await producer.connect();
    await producer.send({ topic: s.topics.orders, acks: -1, messages: [{ value: "before" }] });

    await control.brokerDown(-1);
    try {
      await expect(producer.send({ topic: s.topics.orders, acks: -1, timeout: 1000, messages: [{ value: "during" }] })).rejects.toThrow();
    } finally {
      await control.brokerUp(-1);
    }
    await eventually("a send succeeds once the brokers are back", async () => {
      const [r] = await producer.send({ topic: s.topics.orders, acks: -1, messages: [{ value: "after" }] });
      return r.errorCode === 0;
    });
  });

  it("the launcher injects request errors that the producer sees and retries past", async () => {
    const mock = await privateKafka();
    open.push({ close: () => mock.stop() });
    const s = await services(mock);
    const control = kafkaControl(mock);
    open.push({ close: async () => control.close() });
    const producer = s.kafka.producer({ allowAutoTopicCreation: false, retry: { retries: 0 } });
    open.push({ close: () => producer.disconnect() });
    await producer.connect();
    await producer.send({ topic: s.topics.orders, acks: -1, messages: [{ value: "warm-up" }] });
    // A non-retriable error with no retries left fails the send...
    await control.pushRequestErrors(API_KEY.Produce, KAFKA_ERROR.invalidRecord, 1);
    await expect(producer.send({ topic: s.topics.orders, acks: -1, messages: [{ value: "x" }] })).rejects.toThrow(/invalid|record/i);
    // ...and the next one goes through.
    const [ok] = await producer.send({ topic: s.topics.orders, acks: -1, messages: [{ value: "y" }] });
    expect(ok.errorCode).toBe(0);
  });
});
