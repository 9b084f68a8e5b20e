import { randomUUID } from "node:crypto";
import type { IHeaders } from "kafkajs";
import { connectedProducer, consumerTiming, createConsumer, createProducer } from "../core/kafka.js";
import type { Services } from "../core/services.js";

export interface DeadLetter {
  id: string;
  partition: number;
  offset: string;
  at: string;
  reason: string;
  detail: string;
  orderId: string | null;
  saleId: string | null;
  value: string;
  redrivenAt: string | null;
}

/** How many dead letters the browser keeps in memory (newest); the topic itself keeps them all. */
const KEEP = 5000;

const header = (h: IHeaders | undefined, name: string) => {
  const v = h?.[name];
  return v === undefined ? "" : Array.isArray(v) ? String(v[0]) : String(v);
};

function field(value: string, name: "orderId" | "saleId"): string | null {
  try {
    const v = (JSON.parse(value) as Record<string, unknown>)[name];
    return typeof v === "string" ? v : null;
  } catch {
    return null; // invalid JSON is one of the reasons a message lands here
  }
}

/**
 * The console's view of `seckill.orders.dlq`: a consumer of its own (a fresh group, from the
 * beginning, never committing) started on first use keeps the newest dead letters in memory,
 * each with the `reason` and `detail` headers the order writer wrote. Re-driving republishes a
 * dead letter's bytes to `seckill.orders` under its order id, as the handoff does; the writer
 * is idempotent on the order id, so re-driving twice, or one that was persisted after all, is
 * harmless. When a dead letter was re-driven is kept in Redis, so every console sees it.
 */
export function createDlqBrowser(services: Services) {
  const { kafka, topics, config, redis, logger } = services;
  const log = logger.child({ component: "dlq-browser" });
  const redrivenKey = `${config.REDIS_KEY_PREFIX}dlq:redriven`;
  const letters = new Map<string, DeadLetter>();
  const producer = connectedProducer(createProducer(kafka));
  let consumer: ReturnType<typeof createConsumer> | undefined;
  let starting: Promise<void> | undefined;

  async function start(): Promise<void> {
    const c = createConsumer(kafka, { groupId: `seckill-dlq-browser-${randomUUID()}`, ...consumerTiming(config) });
    consumer = c;
    await c.connect();
    await c.subscribe({ topic: topics.ordersDlq, fromBeginning: true });
    await c.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        const value = message.value?.toString("utf8") ?? "";
        const id = `${partition}:${message.offset}`;
        letters.set(id, {
          id,
          partition,
          offset: message.offset,
          at: new Date(Number(message.timestamp)).toISOString(),
          reason: header(message.headers, "reason") || "unknown",
          detail: header(message.headers, "detail"),
          orderId: field(value, "orderId"),
          saleId: field(value, "saleId"),
          value,
          redrivenAt: null,
        });
        if (letters.size > KEEP) letters.delete(letters.keys().next().value as string);
      },
    });
  }

  function ensureStarted(): Promise<void> {
    starting ??= start().catch((err) => {
      starting = undefined;
      log.error({ err }, "could not read the DLQ topic");
      throw err;
    });
    return starting;
  }
  services.onClose(async () => {
    await consumer?.disconnect();
    await producer.disconnect();
  });

  /** Marks kept in Redis are `<dead letter's time>|<re-driven at>`: a restarted (empty) DLQ topic reuses offsets. */
  async function withMarks(list: DeadLetter[]): Promise<DeadLetter[]> {
    if (list.length === 0) return list;
    const marks = await redis.hmget(redrivenKey, ...list.map((l) => l.id));
    return list.map((l, i) => {
      const [at, redrivenAt] = (marks[i] ?? "").split("|");
      return { ...l, redrivenAt: at === l.at && redrivenAt ? redrivenAt : null };
    });
  }

  return {
    /** Starts reading the topic (once); the first call waits for the consumer to join. */
    start: ensureStarted,
    /** Dead letters read so far, newest first, of one sale or all. */
    async list(saleId?: string): Promise<{ deadLetters: DeadLetter[]; total: number }> {
      await ensureStarted();
      const all = [...letters.values()].reverse();
      const chosen = saleId ? all.filter((l) => l.saleId === saleId) : all;
      return { deadLetters: await withMarks(chosen.slice(0, 500)), total: chosen.length };
    },
    /** Counts of what was read so far (for the dashboard, every second): no I/O, no waiting. */
    count(saleId: string): { sale: number; total: number } {
      ensureStarted().catch(() => {}); // logged in ensureStarted; the dashboard must not wait for the group join

      let sale = 0;
      for (const l of letters.values()) if (l.saleId === saleId) sale++;
      return { sale, total: letters.size };
    },
    /** Dead letters of one order (for its history). */
    async ofOrder(orderId: string): Promise<DeadLetter[]> {
      await ensureStarted();
      return withMarks([...letters.values()].filter((l) => l.orderId === orderId));
    },
    /** Republishes a dead letter to seckill.orders; null when it is not known. */
    async redrive(id: string): Promise<DeadLetter | null> {
      await ensureStarted();
      const letter = letters.get(id);
      if (!letter) return null;
      await producer.send({
        topic: topics.orders,
        acks: -1,
        messages: [{ key: letter.orderId, value: letter.value, headers: { "redriven-from": `${topics.ordersDlq}:${id}` } }],
      });
      const redrivenAt = new Date().toISOString();
      await redis.hset(redrivenKey, id, `${letter.at}|${redrivenAt}`);
      log.info(
        { deadLetter: id, orderId: letter.orderId, saleId: letter.saleId, reason: letter.reason },
        "dead letter re-driven to seckill.orders",
      );
      return { ...letter, redrivenAt };
    },
  };
}

export type DlqBrowser = ReturnType<typeof createDlqBrowser>;
