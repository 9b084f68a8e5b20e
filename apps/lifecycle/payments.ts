import { and, eq } from "drizzle-orm";
import type { EachBatchPayload } from "kafkajs";
import { ER_DUP_ENTRY, isTransient, sqlErrno } from "../core/db/errors.js";
import { orders, type PaymentOutcome, payments } from "../core/db/schema/index.js";
import { consumerTiming, createConsumer, supervisedConsumer } from "../core/kafka.js";
import type { Services } from "../core/services.js";
import { type PaymentMessage, paymentMessageSchema } from "../domain/payment-event.js";
import type { Reservations } from "../domain/reservations.js";

export type ApplyResult = { kind: "applied"; outcome: PaymentOutcome } | { kind: "already_processed" } | { kind: "order_in_transit" };

/**
 * Applies one payment event in a transaction: the order row is locked, and every status change
 * is conditional (`WHERE status = <expected>`), so a payment racing the expiry worker leaves
 * the order in exactly one final state. The payments row, unique on the provider transaction
 * id, makes a repeated event a no-op.
 */
export async function applyPayment(services: Services, reservations: Reservations, m: PaymentMessage): Promise<ApplyResult> {
  // A deadlock only means two transactions met; the loser is rolled back whole and tries again.
  for (let attempt = 1; ; attempt++) {
    try {
      return await applyOnce(services, reservations, m);
    } catch (err) {
      if (sqlErrno(err) !== ER_LOCK_DEADLOCK || attempt >= 5) throw err;
    }
  }
}

const ER_LOCK_DEADLOCK = 1213;

async function applyOnce(services: Services, reservations: Reservations, m: PaymentMessage): Promise<ApplyResult> {
  const { db } = services.database;
  try {
    return await db.transaction(async (tx) => {
      // No lock here (a locking read of a missing row takes a gap lock, and two of those deadlock
      // on insert): the unique provider transaction id settles a concurrent copy (1062 below).
      const [seen] = await tx.select().from(payments).where(eq(payments.providerTxnId, m.providerTxnId));
      // A transaction reported failed and later succeeded is the one repeat that still counts.
      if (seen && !(seen.status === "failed" && m.status === "succeeded")) return { kind: "already_processed" } as const;

      const [order] = await tx.select().from(orders).where(eq(orders.id, m.orderId)).for("update");
      let outcome: PaymentOutcome;
      if (!order) {
        // Paid before the order writer stored it: try again shortly rather than lose the payment.
        if (await services.redis.exists(reservations.global.order(m.orderId))) return { kind: "order_in_transit" } as const;
        outcome = "unknown_order";
      } else if (m.status === "failed") {
        outcome = "failed";
      } else if (order.status === "closed") {
        await tx.update(orders).set({ status: "refund_required" }).where(eq(orders.id, order.id));
        outcome = "refund_required";
      } else if (order.status === "paid" || order.status === "refund_required") {
        outcome = "duplicate_payment";
      } else if (m.amountCents !== order.amountCents) {
        outcome = "amount_mismatch";
      } else {
        await tx.update(orders).set({ status: "paid", paidAt: new Date() }).where(eq(orders.id, order.id));
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
    // The same event id under another transaction id, or a concurrent copy that won: already recorded.
    if (err instanceof AlreadyDone || sqlErrno(err) === ER_DUP_ENTRY) return { kind: "already_processed" };
    throw err;
  }
}

class AlreadyDone extends Error {}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The payments consumer: `seckill.payments` -> applyPayment, committing each batch's offsets
 * after its transactions. MySQL trouble and orders still in transit are retried with backoff
 * (the partition waits; nothing is skipped); an invalid message is logged and skipped.
 */
export function createPaymentsConsumer(services: Services, reservations: Reservations, opts: { groupId?: string } = {}) {
  const { kafka, topics, metrics, config } = services;
  const log = services.logger.child({ component: "payments" });
  async function handle(m: PaymentMessage, p: EachBatchPayload): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      let result: ApplyResult;
      try {
        result = await applyPayment(services, reservations, m);
      } catch (err) {
        // Money is never skipped: keep retrying; a rejection that is not transient needs a person.
        const fields = { err: (err as Error).message, errno: sqlErrno(err), attempt, orderId: m.orderId, eventId: m.eventId };
        if (isTransient(err)) log.warn(fields, "payment not applied yet (MySQL unavailable); retrying");
        else
          log.error(fields, "MySQL rejects this payment event; its partition waits until it is fixed (check the payments and orders rows)");
        result = { kind: "order_in_transit" };
      }
      if (result.kind === "applied") {
        metrics.payments.inc({ outcome: result.outcome });
        const fields = { orderId: m.orderId, eventId: m.eventId, providerTxnId: m.providerTxnId, amountCents: m.amountCents };
        if (result.outcome === "refund_required" || result.outcome === "duplicate_payment") {
          log.error(
            { ...fields, outcome: result.outcome },
            "payment must be refunded: it arrived for an order that is closed or already paid",
          );
        } else if (result.outcome === "amount_mismatch") {
          log.error(fields, "payment amount does not match the order; not applied (investigate with the provider)");
        } else if (result.outcome === "unknown_order") {
          log.warn(fields, "payment for an unknown order recorded");
        }
        return;
      }
      if (result.kind === "already_processed") return;
      if (!p.isRunning() || p.isStale()) throw new Error("payments consumer stopping");
      await sleep(Math.min(30_000, 100 * attempt));
      await p.heartbeat();
    }
  }

  const supervised = supervisedConsumer({
    name: "payments",
    logger: log,
    create: () => createConsumer(kafka, { groupId: opts.groupId ?? `${config.ORDER_WRITER_GROUP_ID}-payments`, ...consumerTiming(config) }),
    async setup(consumer) {
      await consumer.subscribe({ topic: topics.payments, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: 2,
        eachBatch: async (p) => {
          for (const msg of p.batch.messages) {
            let parsed: PaymentMessage | undefined;
            try {
              parsed = paymentMessageSchema.parse(JSON.parse(msg.value?.toString() ?? ""));
            } catch (err) {
              log.error(
                { err: (err as Error).message, offset: msg.offset, partition: p.batch.partition },
                "invalid payment message skipped",
              );
            }
            if (parsed) await handle(parsed, p);
            p.resolveOffset(msg.offset);
          }
          await consumer.commitOffsets([
            { topic: p.batch.topic, partition: p.batch.partition, offset: String(Number(p.batch.lastOffset()) + 1) },
          ]);
        },
      });
    },
  });

  return {
    ready: supervised.ready,
    start: supervised.start,
    stop: supervised.stop,
  };
}
