import type { Batch, EachBatchPayload, IHeaders, Producer } from "kafkajs";
import { isTransient, sqlErrno } from "../core/db/errors.js";
import { consumerLag, consumerTiming, createConsumer, createProducer, supervisedConsumer } from "../core/kafka.js";
import type { Services } from "../core/services.js";
import { type OrderMessage, orderMessageSchema } from "../domain/order-message.js";
import { persistOrders } from "./persist.js";
import { TokenBucket } from "./token-bucket.js";

export interface OrderWriterOptions {
  maxRowsPerSec?: number;
  batchSize?: number;
  groupId?: string;
  /** A message whose rows MySQL rejects this many times goes to the DLQ. */
  maxAttempts?: number;
  partitionsConsumedConcurrently?: number;
}

interface Poison {
  value: Buffer | null;
  offset: string;
  reason: string;
  detail: string;
}

interface Valid {
  message: OrderMessage;
  offset: string;
  value: Buffer | null;
}

class BatchAborted extends Error {}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The order writer: consumes `seckill.orders`, validates each message, inserts in batches at no
 * more than `maxRowsPerSec`, and commits a partition's offset only after its rows are committed
 * in MySQL. Poison (invalid messages, rows MySQL keeps rejecting, a second live order of one
 * user) goes to `seckill.orders.dlq` with the reason in a header and never blocks its partition.
 * While MySQL is down the consumer pauses and retries with backoff; nothing is skipped.
 */
export function createOrderWriter(services: Services, opts: OrderWriterOptions = {}) {
  const { config, kafka, topics, metrics, database } = services;
  const log = services.logger.child({ component: "order-writer" });
  const maxRowsPerSec = opts.maxRowsPerSec ?? config.ORDER_WRITER_MAX_ROWS_PER_SEC;
  const batchSize = opts.batchSize ?? config.ORDER_WRITER_BATCH_SIZE;
  const maxAttempts = opts.maxAttempts ?? 5;
  // A tenth of a second of burst: enough to start a batch at once, small enough to hold the rate.
  const bucket = new TokenBucket(maxRowsPerSec, Math.max(1, Math.min(batchSize, Math.ceil(maxRowsPerSec / 10))));
  const dlqProducer: Producer = createProducer(kafka);
  const groupId = opts.groupId ?? config.ORDER_WRITER_GROUP_ID;
  let lastProgress = Date.now();
  const admin = kafka.admin({ retry: { retries: 0 } });
  let adminConnected: Promise<void> | undefined;
  const supervised = supervisedConsumer({
    name: "order-writer",
    logger: log,
    // Stalled: messages wait, nothing was processed for a while, and MySQL is not the reason.
    stalled: async () => {
      if (paused || Date.now() - lastProgress < 10_000) return false;
      adminConnected ??= admin.connect().catch((err) => {
        adminConnected = undefined;
        throw err;
      });
      await adminConnected;
      return (await consumerLag(admin, groupId, topics.orders)) > 0;
    },
    create: () => createConsumer(kafka, { groupId, ...consumerTiming(config) }),
    async setup(consumer) {
      await consumer.subscribe({ topic: topics.orders, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: opts.partitionsConsumedConcurrently ?? 3,
        eachBatch,
      });
    },
  });
  const consumer = () => supervised.current();
  let paused = false;
  let stopping: Promise<void> | undefined;

  function parse(batch: Batch): { valid: Valid[]; poison: Poison[] } {
    const valid: Valid[] = [];
    const poison: Poison[] = [];
    for (const m of batch.messages) {
      let json: unknown;
      try {
        json = JSON.parse(m.value?.toString("utf8") ?? "");
      } catch {
        poison.push({ value: m.value, offset: m.offset, reason: "invalid_json", detail: "value is not JSON" });
        continue;
      }
      const parsed = orderMessageSchema.safeParse(json);
      if (parsed.success) valid.push({ message: parsed.data, offset: m.offset, value: m.value });
      else {
        const detail = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
        poison.push({ value: m.value, offset: m.offset, reason: "invalid_message", detail });
      }
    }
    return { valid, poison };
  }

  /** Sends to the DLQ, retrying until Kafka takes it: the offset cannot be committed before. */
  async function deadLetter(batch: Batch, items: Poison[], p: EachBatchPayload): Promise<void> {
    if (items.length === 0) return;
    const messages = items.map((i) => ({
      value: i.value,
      headers: {
        reason: i.reason,
        detail: i.detail.slice(0, 1000),
        "source-topic": batch.topic,
        "source-partition": String(batch.partition),
        "source-offset": i.offset,
      } satisfies IHeaders,
    }));
    for (let attempt = 1; ; attempt++) {
      try {
        await dlqProducer.send({ topic: topics.ordersDlq, acks: -1, messages });
        break;
      } catch (err) {
        log.error({ err: (err as Error).message, attempt, count: items.length }, "could not write to the DLQ; retrying before committing");
        await waitOrAbort(p, Math.min(5000, 200 * attempt));
      }
    }
    for (const i of items) {
      metrics.deadLettered.inc({ reason: i.reason });
      log.warn({ reason: i.reason, detail: i.detail, partition: batch.partition, offset: i.offset }, "order message dead-lettered");
    }
  }

  async function waitOrAbort(p: EachBatchPayload, ms: number): Promise<void> {
    await sleep(ms);
    if (!p.isRunning() || p.isStale()) throw new BatchAborted();
    try {
      await p.heartbeat();
    } catch {
      throw new BatchAborted(); // a rebalance took the partition: its next owner redoes the batch
    }
  }

  /** Inserts one chunk, retrying transient failures forever (paused) and row errors up to maxAttempts. */
  async function persistChunk(chunk: Valid[], p: EachBatchPayload, poison: Poison[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        const r = await persistOrders(
          database.db,
          chunk.map((v) => v.message),
        );
        if (paused) {
          paused = false;
          consumer().resume([{ topic: topics.orders }]);
          log.warn({ attempt }, "MySQL is back: order writer resumed");
        }
        metrics.ordersPersisted.inc(r.inserted);
        metrics.ordersAlreadyPersisted.inc(r.alreadyPersisted);
        metrics.writerBatchSize.observe(chunk.length);
        for (const m of r.slotConflicts) {
          const v = chunk.find((c) => c.message.orderId === m.orderId)!;
          poison.push({
            value: v.value,
            offset: v.offset,
            reason: "user_slot_taken",
            detail: `sale ${m.saleId}: user ${m.userId} already has a live order in slot ${m.slot}; order ${m.orderId} was not persisted (refund/notify the user; reconcile the stock)`,
          });
        }
        return;
      } catch (err) {
        if (err instanceof BatchAborted) throw err;
        metrics.writerRetries.inc();
        if (isTransient(err)) {
          if (!paused) {
            paused = true;
            consumer().pause([{ topic: topics.orders }]);
            log.error(
              { err: (err as Error).message, errno: sqlErrno(err) },
              "MySQL unavailable: order writer paused, retrying with backoff (nothing is skipped)",
            );
          }
          await waitOrAbort(p, Math.min(5000, 100 * 2 ** Math.min(attempt, 6)));
          continue;
        }
        if (chunk.length > 1) {
          // Find the row MySQL rejects: each one gets its own attempts.
          for (const v of chunk) await persistChunk([v], p, poison);
          return;
        }
        if (attempt >= maxAttempts) {
          const { message: m, value, offset } = chunk[0];
          poison.push({
            value,
            offset,
            reason: "db_rejected",
            detail: `MySQL rejected order ${m.orderId} of sale ${m.saleId} ${attempt} times: errno ${sqlErrno(err)} ${(err as Error).message}`,
          });
          return;
        }
        await waitOrAbort(p, 100 * attempt);
      }
    }
  }

  async function eachBatch(p: EachBatchPayload): Promise<void> {
    const { batch } = p;
    if (batch.isEmpty()) return;
    const { valid, poison } = parse(batch);
    try {
      for (let i = 0; i < valid.length; i += batchSize) {
        const chunk = valid.slice(i, i + batchSize);
        await bucket.take(chunk.length);
        await persistChunk(chunk, p, poison);
      }
      await deadLetter(batch, poison, p);
    } catch (err) {
      if (err instanceof BatchAborted) return; // not committed: redelivered, and inserts are idempotent
      throw err;
    }
    // The rows are committed: only now does the batch count as done, for kafkajs's fetch position
    // (resolveOffset) and for the group (commitOffsets).
    p.resolveOffset(batch.lastOffset());
    lastProgress = Date.now();
    const next = String(Number(batch.lastOffset()) + 1);
    await consumer().commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: next }]);
    metrics.writerConsumerLag.set({ partition: String(batch.partition) }, Math.max(0, Number(batch.highWatermark) - Number(next)));
  }

  return {
    /** Resolves once the consumer has joined its group (partitions assigned). */
    ready: supervised.ready,
    async start(): Promise<void> {
      await dlqProducer.connect();
      await supervised.start();
      log.info({ topic: topics.orders, maxRowsPerSec, batchSize }, "order writer consuming");
    },
    /** Stops fetching, lets the batches in hand finish (their offsets commit), then disconnects. Runs once. */
    stop(): Promise<void> {
      stopping ??= (async () => {
        await supervised.stop();
        await dlqProducer.disconnect();
        await admin.disconnect();
      })();
      return stopping;
    },
  };
}

export type OrderWriter = ReturnType<typeof createOrderWriter>;
