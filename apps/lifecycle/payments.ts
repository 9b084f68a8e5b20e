import { and, eq } from "drizzle-orm";
import type { Consumer, EachBatchPayload } from "kafkajs";
import { databaseAnswers } from "../core/db/client.js";
import { ER_DUP_ENTRY, isTransient, sqlErrno } from "../core/db/errors.js";
import { orders, type PaymentOutcome, paymentConflicts, payments } from "../core/db/schema/index.js";
import { consumerLag, consumerTiming, createConsumer, heartbeatEvery, keepingMembership, supervisedConsumer } from "../core/kafka.js";
import { type Services, sharedKafkaAdmin } from "../core/services.js";
import { kafkaCarrier, tracing } from "../core/tracing.js";
import { orderEvent, recordOrderEvents } from "../domain/order-events.js";
import { type PaymentMessage, paymentMessageSchema } from "../domain/payment-event.js";
import type { SaleStore } from "../domain/sale-store.js";
import { createPaymentParking } from "./payment-parking.js";

export type ApplyResult =
  | {
      kind: "applied";
      outcome: PaymentOutcome;
      /** txn_conflict: the order the transaction belongs to. */
      firstOrderId?: string;
    }
  | { kind: "already_processed" }
  | { kind: "order_in_transit" }
  /** Neither MySQL nor Redis knows the order, and `askBeforeUnknown` was set: nothing recorded. */
  | { kind: "order_not_found" };

export interface ApplyOptions {
  /** The payment waited its full time for its order: no row now means `unknown_order`, even if Redis still holds the order. */
  orderWaitOver?: boolean;
  /**
   * When neither MySQL nor Redis knows the order, answer `order_not_found` and record nothing
   * (instead of `unknown_order`): Redis may have lost its copy of an order still in Kafka, which
   * only the order writer's progress can tell, and that is not read inside the transaction.
   */
  askBeforeUnknown?: boolean;
}

/**
 * Applies one payment event in a transaction: the order row is locked, and every status change
 * is conditional (`WHERE status = <expected>`), so a payment racing the expiry worker leaves
 * the order in exactly one final state. The payments row, unique on the provider transaction
 * id, makes a repeated event a no-op.
 */
export async function applyPayment(services: Services, store: SaleStore, m: PaymentMessage, opts: ApplyOptions = {}): Promise<ApplyResult> {
  // A deadlock only means two transactions met; the loser is rolled back whole and tries again.
  // An insert that lost a race on a unique key looks once more: the winner may have been another
  // order's use of the same transaction id (a conflict to record) or this very event (done).
  let raced = false;
  for (let attempt = 1; ; attempt++) {
    try {
      return await applyOnce(services, store, m, opts);
    } catch (err) {
      if (err instanceof LostInsertRace) {
        if (raced) return { kind: "already_processed" };
        raced = true;
        continue;
      }
      if (sqlErrno(err) !== ER_LOCK_DEADLOCK || attempt >= 5) throw err;
    }
  }
}

const ER_LOCK_DEADLOCK = 1213;

async function applyOnce(services: Services, store: SaleStore, m: PaymentMessage, opts: ApplyOptions): Promise<ApplyResult> {
  const { db } = services.database;
  try {
    return await db.transaction(async (tx) => {
      // No lock here (a locking read of a missing row takes a gap lock, and two of those deadlock
      // on insert): the unique provider transaction id settles a concurrent copy (1062 below).
      const [seen] = await tx.select().from(payments).where(eq(payments.providerTxnId, m.providerTxnId));
      // A transaction id belongs to the first order it was reported for, for ever: another
      // order's use of it is kept apart (one row per event; a repeat is a 1062 below), never
      // applied, and never re-points the first order's record.
      if (seen && seen.orderId !== m.orderId) {
        await tx.insert(paymentConflicts).values({
          eventId: m.eventId,
          providerTxnId: m.providerTxnId,
          orderId: m.orderId,
          firstOrderId: seen.orderId,
          amountCents: m.amountCents,
          status: m.status,
          receivedAt: new Date(m.receivedAt),
        });
        return { kind: "applied", outcome: "txn_conflict", firstOrderId: seen.orderId } as const;
      }
      // A transaction reported failed and later succeeded is the one repeat that still counts.
      if (seen && !(seen.status === "failed" && m.status === "succeeded")) return { kind: "already_processed" } as const;

      const [order] = await tx.select().from(orders).where(eq(orders.id, m.orderId)).for("update");
      let outcome: PaymentOutcome;
      if (!order) {
        // Paid before the order writer stored it: the caller parks it and tries again shortly.
        if (!opts.orderWaitOver && (await store.isQueued(m.orderId))) return { kind: "order_in_transit" } as const;
        if (!opts.orderWaitOver && opts.askBeforeUnknown) return { kind: "order_not_found" } as const;
        outcome = "unknown_order";
      } else if (m.status === "failed") {
        outcome = "failed";
      } else if (order.status === "closed") {
        await tx.update(orders).set({ status: "refund_required" }).where(eq(orders.id, order.id));
        await recordOrderEvents(tx, [orderEvent("order.refund_required", order, new Date())]);
        outcome = "refund_required";
      } else if (order.status === "paid" || order.status === "refund_required") {
        outcome = "duplicate_payment";
      } else if (m.amountCents !== order.amountCents) {
        outcome = "amount_mismatch";
      } else {
        const paidAt = new Date();
        await tx.update(orders).set({ status: "paid", paidAt }).where(eq(orders.id, order.id));
        await recordOrderEvents(tx, [orderEvent("order.paid", order, paidAt)]);
        outcome = "applied";
      }

      const row = {
        eventId: m.eventId,
        orderId: m.orderId,
        amountCents: m.amountCents,
        status: m.status,
        outcome,
        receivedAt: new Date(m.receivedAt),
      };
      if (seen) {
        const [res] = await tx
          .update(payments)
          .set(row)
          .where(and(eq(payments.providerTxnId, m.providerTxnId), eq(payments.status, "failed")));
        // A concurrent copy upgraded it first: undo this one's order change.
        if (res.affectedRows === 0) throw new AlreadyDone();
      } else await tx.insert(payments).values({ providerTxnId: m.providerTxnId, ...row });
      return { kind: "applied", outcome } as const;
    });
  } catch (err) {
    if (err instanceof AlreadyDone) return { kind: "already_processed" };
    // The same event id under another transaction id, a concurrent copy, or a concurrent use of
    // the transaction id by another order: applyPayment looks again.
    if (sqlErrno(err) === ER_DUP_ENTRY) throw new LostInsertRace();
    throw err;
  }
}

class AlreadyDone extends Error {}
class LostInsertRace extends Error {}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The payments consumer reads the order writer's progress from Kafka at most this often (ms; see writerPassed). */
const WRITER_READ_EVERY_MS = 1000;

/**
 * The payments consumer: `seckill.payments` -> applyPayment, committing each partition's offsets
 * after its transactions. MySQL trouble is retried with backoff in place (every payment needs
 * MySQL; nothing is skipped). A payment whose order is not a row yet never holds up the others:
 * it is parked on its own (payment-parking.ts) and retried with backoff until
 * PAYMENT_ORDER_WAIT_MS, counted from the message's Kafka timestamp (so a restart or rebalance
 * does not start the wait again), then recorded as `unknown_order` and alerted. An invalid
 * message is logged and skipped.
 */
export function createPaymentsConsumer(
  services: Services,
  store: SaleStore,
  opts: { groupId?: string; orderWaitMs?: number; parkedRetryMs?: number } = {},
) {
  const { kafka, topics, metrics, config } = services;
  const log = services.logger.child({ component: "payments" });
  let current: Consumer | undefined;
  const committed = new Map<number, number>();

  function report(m: PaymentMessage, result: Extract<ApplyResult, { kind: "applied" }>, waitedMs?: number): void {
    metrics.payments.inc({ outcome: result.outcome });
    const fields = { orderId: m.orderId, eventId: m.eventId, providerTxnId: m.providerTxnId, amountCents: m.amountCents };
    if (result.outcome === "refund_required" || result.outcome === "duplicate_payment") {
      log.error({ ...fields, outcome: result.outcome }, "payment must be refunded: it arrived for an order that is closed or already paid");
    } else if (result.outcome === "amount_mismatch") {
      log.error(fields, "payment amount does not match the order; not applied (investigate with the provider)");
    } else if (result.outcome === "txn_conflict") {
      log.error(
        { ...fields, firstOrderId: result.firstOrderId, status: m.status },
        `provider transaction ${m.providerTxnId} already belongs to order ${result.firstOrderId} and was now reported for order ${m.orderId}: recorded in payment_conflicts, not applied (check both orders with the provider)`,
      );
    } else if (result.outcome === "unknown_order") {
      if (waitedMs !== undefined)
        log.error(
          { ...fields, waitedMs },
          "payment for an order that never became a row within PAYMENT_ORDER_WAIT_MS: recorded as unknown_order (check seckill.orders.dlq for the order; refund or apply it by hand)",
        );
      else
        log.error(
          fields,
          "payment for an order neither MySQL nor Redis knows: recorded as unknown_order (refund it, or check the order id with the provider)",
        );
    }
  }

  /** Commits what the partition may commit now (see payment-parking.ts); a failure waits for the next chance. */
  async function commit(partition: number): Promise<void> {
    const offset = parking.committable(partition);
    if (offset === undefined || !current || (committed.get(partition) ?? -1) >= offset) return;
    try {
      await current.commitOffsets([{ topic: topics.payments, partition, offset: String(offset) }]);
      committed.set(partition, offset);
    } catch (err) {
      log.warn(
        { err, partition, offset },
        "could not commit payment offsets yet (rebalancing?); the next batch or settled payment retries",
      );
    }
  }

  const kafkaAdmin = sharedKafkaAdmin(services);

  /**
   * Whether the order writer has persisted every order message that was in Kafka when this
   * payment was first looked at: its group's committed offset on each partition of the orders
   * topic has reached the payment's *mark* (the topic's end offsets read after the payment was
   * consumed, or after its deadline passed; kept per payment). Unlike "lag 0", this is reached
   * under a steady flow of new orders too. False while the writer is short of the mark, or when
   * Kafka cannot say (logged).
   *
   * Cost, whatever the number of payments asking: the end offsets are read at most once per
   * WRITER_READ_EVERY_MS and shared by every payment first seen before that read began; the
   * committed offsets likewise. A shared committed read is sound: the caller asks MySQL again
   * after this answer, so an order the writer committed before the read is found by that read.
   */
  const marks = new WeakMap<PaymentMessage, Map<number, number>>();
  let ends: { readAt: number; high: Map<number, number> } | undefined;
  let writerCommitted: { readAt: number; offsets: Map<number, number> } | undefined;
  let failedAt = Number.NEGATIVE_INFINITY;
  async function writerPassed(m: PaymentMessage, since: number): Promise<boolean> {
    const now = Date.now();
    if (now - failedAt < WRITER_READ_EVERY_MS) return false;
    try {
      let mark = marks.get(m);
      if (!mark) {
        if (!ends || ends.readAt < since) {
          if (ends && now - ends.readAt < WRITER_READ_EVERY_MS) return false; // a fresh mark next time
          const readAt = Date.now();
          const topic = await (await kafkaAdmin()).fetchTopicOffsets(topics.orders);
          // A partition with nothing in it (high = low) needs nothing from the writer.
          ends = { readAt, high: new Map(topic.filter((e) => Number(e.high) > Number(e.low)).map((e) => [e.partition, Number(e.high)])) };
        }
        mark = ends.high;
        marks.set(m, mark);
      }
      if (!writerCommitted || now - writerCommitted.readAt >= WRITER_READ_EVERY_MS) {
        const readAt = Date.now();
        const [group] = await (await kafkaAdmin()).fetchOffsets({ groupId: config.ORDER_WRITER_GROUP_ID, topics: [topics.orders] });
        writerCommitted = { readAt, offsets: new Map(group.partitions.map((e) => [e.partition, Number(e.offset)])) };
      }
      for (const [partition, high] of mark) if ((writerCommitted.offsets.get(partition) ?? -1) < high) return false;
      return true;
    } catch (err) {
      failedAt = Date.now();
      log.warn(
        { err, orderId: m.orderId },
        "cannot read the order writer's progress from Kafka: payments for orders MySQL does not have keep waiting (asked again in 1 s)",
      );
      return false;
    }
  }

  /**
   * Whether the order is still in its Redis handoff record (accepted, not yet acknowledged by
   * Kafka: its API could not produce it, or the relay has not yet after an outage). The record
   * is dropped only after Kafka acknowledged the message, so once this says no, end offsets read
   * afterwards cover the order. Found through the queued copy (sale and buyer); without the copy
   * it cannot be found (false). When Redis cannot say: true (the payment keeps waiting; logged).
   */
  async function stillInHandoff(m: PaymentMessage): Promise<boolean> {
    try {
      const queued = await store.queuedOrder(m.orderId);
      return queued ? (await store.orderInRedis(queued.saleId, queued.userId, m.orderId)).waiting : false;
    } catch (err) {
      log.warn(
        { err, orderId: m.orderId },
        "cannot tell from Redis whether the order still waits there for Kafka: its payment keeps waiting (asked again at its next retry)",
      );
      return true;
    }
  }

  /**
   * applyPayment, except that a payment for an order neither MySQL nor Redis knows ends
   * `unknown_order` only once the order writer has passed everything that was in Kafka when the
   * payment was consumed (`consumedAt`, ms; writerPassed): Redis may have lost its copy of an
   * order that is still in Kafka (a restart or failover, or the best-effort copy after the 202
   * was never written), and recording unknown_order then would let the paid order expire. MySQL
   * is asked again after the writer's progress was read, so an order persisted in between is
   * found by that second read.
   */
  async function apply(m: PaymentMessage, orderWaitOver: boolean, consumedAt: number): Promise<ApplyResult> {
    const result = await applyPayment(services, store, m, { orderWaitOver, askBeforeUnknown: !orderWaitOver });
    if (result.kind !== "order_not_found") return result;
    if (!(await writerPassed(m, consumedAt))) return { kind: "order_in_transit" };
    return applyPayment(services, store, m, { orderWaitOver: true });
  }

  const parking = createPaymentParking({
    waitMs: opts.orderWaitMs ?? config.PAYMENT_ORDER_WAIT_MS,
    logger: log,
    async retry(p, deadlinePassed) {
      // Past the deadline it ends unknown_order only once the writer has passed what Kafka held
      // then: while it is short of that (an outage longer than the wait), the order may be in it.
      // Not while the order is still in a handoff record: Kafka does not hold it yet, so no mark
      // read now covers it; a mark taken meanwhile is dropped, the next is read once it left.
      let over = false;
      if (deadlinePassed) {
        if (await stillInHandoff(p.m)) marks.delete(p.m);
        else over = await writerPassed(p.m, p.deadline);
      }
      const result = await apply(p.m, over, p.parkedAt);
      if (result.kind === "order_in_transit") return "waiting";
      if (result.kind === "applied") report(p.m, result, Date.now() - p.waitFrom);
      return "settled";
    },
    onSettled: (partition) => void commit(partition),
    onCount: (n) => metrics.paymentsWaitingForOrder.set(n),
  });

  /**
   * Applies one payment now, or parks it when its order is not a row yet; `timestamp` is the Kafka
   * message's (ms since the epoch, as kafkajs gives it), which its wait counts from.
   */
  async function handle(m: PaymentMessage, p: EachBatchPayload, offset: number, timestamp: string | undefined): Promise<void> {
    if (parking.isParked(p.batch.partition, offset)) return; // a redelivery of one already waiting
    const consumedAt = Date.now();
    for (let attempt = 1; ; attempt++) {
      let result: ApplyResult;
      try {
        result = await apply(m, false, consumedAt);
      } catch (err) {
        // Money is never skipped: keep retrying; a rejection that is not transient needs a person.
        const fields = { err, errno: sqlErrno(err), attempt, orderId: m.orderId, eventId: m.eventId };
        if (isTransient(err)) log.warn(fields, "payment not applied yet (MySQL unavailable); retrying");
        else
          log.error(fields, "MySQL rejects this payment event; its partition waits until it is fixed (check the payments and orders rows)");
        if (!p.isRunning() || p.isStale()) throw new Error("payments consumer stopping");
        await sleep(Math.min(30_000, 100 * attempt));
        await p.heartbeat();
        continue;
      }
      if (result.kind === "applied") report(m, result);
      else if (result.kind === "order_in_transit" && parking.park(m, p.batch.partition, offset, timestamp)) {
        metrics.paymentsParked.inc();
        const parked = parking.get(p.batch.partition, offset);
        log.warn(
          {
            orderId: m.orderId,
            eventId: m.eventId,
            providerTxnId: m.providerTxnId,
            partition: p.batch.partition,
            offset,
            waitMs: opts.orderWaitMs ?? config.PAYMENT_ORDER_WAIT_MS,
            waitFrom: parked && new Date(parked.waitFrom).toISOString(),
            waitFromSource: parked?.waitFromSource,
            deadline: parked && new Date(parked.deadline).toISOString(),
          },
          "payment arrived before its order is a row: parked on its own (the other payments go on); it ends unknown_order if the order is not a row by the deadline (counted from the callback's Kafka timestamp)",
        );
      }
      return;
    }
  }

  const groupId = opts.groupId ?? `${config.ORDER_WRITER_GROUP_ID}-payments`;
  // Next offset this consumer handled (applied or parked), per partition: a parked payment holds
  // the commit back for minutes by design, which must not look like a stalled consumer.
  const handledNext = new Map<number, number>();
  const supervised = supervisedConsumer({
    name: "payments",
    logger: log,
    onRestart: (reason) => metrics.consumerRestarts.inc({ consumer: "payments", reason }),
    topic: topics.payments,
    watchdog: {
      blocked: async () => !(await databaseAnswers(services.database)),
      lag: async (partitions) => consumerLag(await kafkaAdmin(), groupId, topics.payments, partitions, handledNext),
      stallAfterMs: Math.max(30_000, 3 * config.KAFKA_SESSION_TIMEOUT_MS),
    },
    create: () => createConsumer(kafka, { groupId, ...consumerTiming(config) }),
    async setup(consumer) {
      current = consumer;
      committed.clear();
      handledNext.clear();
      await consumer.subscribe({ topic: topics.payments, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: 2,
        // A payment may wait long (MySQL away): stay in the group meanwhile.
        eachBatch: keepingMembership(
          async (p) => {
            for (const msg of p.batch.messages) {
              let parsed: PaymentMessage | undefined;
              try {
                parsed = paymentMessageSchema.parse(JSON.parse(msg.value?.toString() ?? ""));
              } catch (err) {
                log.error({ err, offset: msg.offset, partition: p.batch.partition }, "invalid payment message skipped");
              }
              const t = tracing();
              if (parsed && t) {
                const m = parsed;
                // A CONSUMER span, child of the callback that sent the event (its traceparent header).
                await t.inSpan(
                  `${topics.payments} process`,
                  {
                    kind: t.kinds.CONSUMER,
                    parent: t.extract(kafkaCarrier(msg.headers)),
                    attributes: { "messaging.system": "kafka", "seckill.order_id": m.orderId, "seckill.event_id": m.eventId },
                  },
                  () => handle(m, p, Number(msg.offset), msg.timestamp),
                );
              } else if (parsed) await handle(parsed, p, Number(msg.offset), msg.timestamp);
              p.resolveOffset(msg.offset);
              supervised.progressed(); // a batch commits at its end: a long one that moves is not stalled
            }
            parking.handledUpTo(p.batch.partition, Number(p.batch.lastOffset()) + 1);
            handledNext.set(p.batch.partition, Number(p.batch.lastOffset()) + 1);
            await commit(p.batch.partition);
          },
          heartbeatEvery(config.KAFKA_SESSION_TIMEOUT_MS),
          services.foreground,
        ),
      });
    },
  });

  return {
    ready: supervised.ready,
    async start() {
      parking.start(opts.parkedRetryMs ?? 100);
      await supervised.start();
    },
    async stop() {
      parking.stop();
      await supervised.stop();
    },
    /** Payments parked until their order is a row. */
    get waitingForOrder() {
      return parking.size;
    },
  };
}
