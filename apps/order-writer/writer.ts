import type { Batch, EachBatchPayload, IHeaders, Producer } from "kafkajs";
import { databaseAnswers } from "../core/db/client.js";
import { isTransient, sqlErrno } from "../core/db/errors.js";
import {
  consumerLag,
  consumerTiming,
  createConsumer,
  createProducer,
  heartbeatEvery,
  keepingMembership,
  supervisedConsumer,
} from "../core/kafka.js";
import type { Services } from "../core/services.js";
import { kafkaCarrier, type Tracing, tracing } from "../core/tracing.js";
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
  headers?: IHeaders;
}

class BatchAborted extends Error {}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The order writer: consumes `seckill.orders`, validates each message, inserts in batches at no
 * more than `maxRowsPerSec`, and commits a partition's offset only after its rows are committed
 * in MySQL. Poison (invalid messages, rows MySQL keeps rejecting, a second live order of one
 * user) goes to `seckill.orders.dlq` with the reason in a header and never blocks its partition.
 * While MySQL is down each batch in hand retries with backoff, heartbeating so the writer keeps its
 * partitions; nothing is skipped. A supervisor recreates the consumer if it ever stops consuming.
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
  const admin = kafka.admin({ retry: { retries: 0 } });
  let adminConnected: Promise<void> | undefined;
  const supervised = supervisedConsumer({
    name: "order-writer",
    logger: log,
    onRestart: (reason) => metrics.consumerRestarts.inc({ consumer: "order-writer", reason }),
    topic: topics.orders,
    // Stalled: messages wait on this writer's partitions, nothing was committed for a while, and
    // MySQL answers (while it does not, waiting is the job).
    watchdog: {
      blocked: async () => !(await databaseAnswers(database)),
      lag: async (partitions) => {
        adminConnected ??= admin.connect().catch((err) => {
          adminConnected = undefined;
          throw err;
        });
        await adminConnected;
        return consumerLag(admin, groupId, topics.orders, partitions);
      },
      stallAfterMs: Math.max(30_000, 3 * config.KAFKA_SESSION_TIMEOUT_MS),
    },
    create: () => createConsumer(kafka, { groupId, ...consumerTiming(config) }),
    async setup(consumer) {
      await consumer.subscribe({ topic: topics.orders, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: opts.partitionsConsumedConcurrently ?? 3,
        // A MySQL retry may last minutes: the writer must stay in its group all along.
        eachBatch: keepingMembership(eachBatch, heartbeatEvery(config.KAFKA_SESSION_TIMEOUT_MS), services.foreground),
      });
    },
  });
  // Only for the log: one line when MySQL goes away, one when it is back. No consumer.pause():
  // a paused topic stays paused across a rejoin, and a batch aborted by a rebalance would never
  // resume it (the writer then sat in its group consuming nothing). A batch waiting for MySQL
  // holds its worker, and kafkajs fetches nothing new for that worker meanwhile.
  let mysqlDown = false;

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
      if (parsed.success) valid.push({ message: parsed.data, offset: m.offset, value: m.value, headers: m.headers });
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
        log.error({ err, attempt, count: items.length }, "could not write to the DLQ; retrying before committing");
        await waitOrAbort(p, Math.min(5000, 200 * attempt));
      }
    }
    for (const i of items) {
      metrics.deadLettered.inc({ reason: i.reason });
      log.warn({ reason: i.reason, detail: i.detail, partition: batch.partition, offset: i.offset }, "order message dead-lettered");
    }
  }

  /** Waits `ms`, in steps, and aborts the batch as soon as the consumer stops or leaves its group. */
  async function waitOrAbort(p: EachBatchPayload, ms: number): Promise<void> {
    for (const until = Date.now() + ms; ; ) {
      if (!p.isRunning() || p.isStale()) throw new BatchAborted();
      try {
        await p.heartbeat();
      } catch {
        throw new BatchAborted(); // evicted or rebalanced: the partition's next owner redoes the batch
      }
      const left = until - Date.now();
      if (left <= 0) return;
      await sleep(Math.min(left, 250));
    }
  }

  /** Inserts one chunk, retrying transient failures for as long as they last and row errors up to maxAttempts. */
  async function persistChunk(chunk: Valid[], p: EachBatchPayload, poison: Poison[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        const r = await persistOrders(
          database.db,
          chunk.map((v) => v.message),
        );
        if (mysqlDown) {
          mysqlDown = false;
          log.warn({ attempt }, "MySQL is back: order writer persisting again");
        }
        supervised.progressed(); // a large batch commits only at its end: moving is not stalled
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
          if (!mysqlDown) {
            mysqlDown = true;
            log.error(
              { err, errno: sqlErrno(err), partition: p.batch.partition },
              "MySQL unavailable: order writer holding its batches, retrying with backoff (nothing is skipped)",
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

  /**
   * persistChunk with tracing on: a CONSUMER span per message, child of the purchase that sent it
   * (its `traceparent` header), and one span for the chunk's insert under the first of them,
   * linked to all (one multi-row INSERT serves many traces; the mysql2 instrumentation's query
   * spans sit under it).
   */
  async function tracedPersistChunk(t: Tracing, chunk: Valid[], p: EachBatchPayload, poison: Poison[]): Promise<void> {
    const spans = chunk.map((v) =>
      t.startSpan(`${topics.orders} process`, {
        kind: t.kinds.CONSUMER,
        parent: t.extract(kafkaCarrier(v.headers)),
        attributes: { "messaging.system": "kafka", "seckill.order_id": v.message.orderId, "seckill.sale_id": v.message.saleId },
      }),
    );
    try {
      await t.withSpan(spans[0], () =>
        t.inSpan(
          "orders insert",
          {
            links: spans.map((s) => ({ context: s.spanContext() })),
            attributes: { "db.system.name": "mysql", "seckill.rows": chunk.length },
          },
          () => persistChunk(chunk, p, poison),
        ),
      );
    } catch (err) {
      for (const s of spans) s.setStatus({ code: 2, message: (err as Error).message }); // SpanStatusCode.ERROR
      throw err;
    } finally {
      for (const s of spans) s.end();
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
        const t = tracing();
        await (t ? tracedPersistChunk(t, chunk, p, poison) : persistChunk(chunk, p, poison));
      }
      await deadLetter(batch, poison, p);
    } catch (err) {
      if (err instanceof BatchAborted) return; // not committed: redelivered, and inserts are idempotent
      throw err;
    }
    // Left the group while persisting: the partition's next owner is redelivered the batch (its
    // rows are there already, so it only commits).
    if (!p.isRunning()) return;
    // The rows are committed: only now does the batch count as done, for kafkajs's fetch position
    // (resolveOffset) and for the group (the commit, through this batch's own consumer: after a
    // restart, consumer() is another one).
    p.resolveOffset(batch.lastOffset());
    const next = String(Number(batch.lastOffset()) + 1);
    await p.commitOffsetsIfNecessary({ topics: [{ topic: batch.topic, partitions: [{ partition: batch.partition, offset: next }] }] });
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
