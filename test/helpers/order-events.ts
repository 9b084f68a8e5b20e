import { eq, inArray } from "drizzle-orm";
import type { Kafka } from "kafkajs";
import type { Db } from "../../apps/core/db/client.js";
import { orderEvents, orders } from "../../apps/core/db/schema/index.js";
import { consumerTiming, createConsumer } from "../../apps/core/kafka.js";
import { type OrderEvent, orderEventSchema } from "../../apps/domain/order-events.js";
import { loyaltyBalances, loyaltyOrders, loyaltyProcessedEvents } from "../../apps/loyalty/db/schema.js";
import { pointsFor } from "../../apps/loyalty/ledger.js";
import { randomId } from "./env.js";

export interface Seen {
  partition: number;
  offset: number;
  key: string;
  event: OrderEvent;
}

/** Reads everything on the topic (a group of its own, from the start) into `seen`, in arrival order. */
export async function watchTopic(kafka: Kafka, topic: string) {
  const seen: Seen[] = [];
  const consumer = createConsumer(kafka, {
    groupId: randomId("watch-"),
    ...consumerTiming({ KAFKA_SESSION_TIMEOUT_MS: 3000, KAFKA_FETCH_MAX_WAIT_MS: 100 }),
  });
  let joined!: () => void;
  const ready = new Promise<void>((r) => {
    joined = r;
  });
  consumer.on(consumer.events.GROUP_JOIN, () => joined());
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      seen.push({
        partition,
        offset: Number(message.offset),
        key: message.key?.toString() ?? "",
        event: orderEventSchema.parse(JSON.parse(message.value?.toString() ?? "")),
      });
    },
  });
  await ready;
  return { seen, stop: () => consumer.disconnect() };
}

/** The versions an order's events reach for its current status: created 1, paid/closed 2, refund_required 3. */
export function expectedVersion(status: string): number {
  return { pending_payment: 1, paid: 2, closed: 2, refund_required: 3 }[status] ?? -1;
}

/**
 * Differences between the loyalty ledger and the orders table for a sale (empty = they agree):
 * every order known at its current status and version, none extra, and every buyer's balance the
 * points of their paid orders. Also checks that the ledger applied each outbox event at most once.
 */
export async function ledgerDiff(db: Db, saleId: string): Promise<string[]> {
  const problems: string[] = [];
  const rows = await db.select().from(orders).where(eq(orders.saleId, saleId));
  const ledger = new Map((await db.select().from(loyaltyOrders).where(eq(loyaltyOrders.saleId, saleId))).map((r) => [r.orderId, r]));
  for (const o of rows) {
    const l = ledger.get(o.id);
    if (!l) problems.push(`${o.id}: ${o.status} in orders, missing from the ledger`);
    else if (l.status !== o.status || l.version !== expectedVersion(o.status) || l.amountCents !== o.amountCents)
      problems.push(`${o.id}: orders ${o.status} v${expectedVersion(o.status)}, ledger ${l.status} v${l.version}`);
    ledger.delete(o.id);
  }
  for (const id of ledger.keys()) problems.push(`${id}: in the ledger, not in orders`);
  const users = [...new Set(rows.map((r) => r.userId))];
  if (users.length) {
    const balances = new Map(
      (await db.select().from(loyaltyBalances).where(inArray(loyaltyBalances.userId, users))).map((b) => [b.userId, b.points]),
    );
    for (const u of users) {
      const want = rows.filter((r) => r.userId === u).reduce((s, r) => s + pointsFor(r.status, r.amountCents), 0);
      if ((balances.get(u) ?? 0) !== want) problems.push(`user ${u}: ${balances.get(u) ?? 0} points, paid orders earn ${want}`);
    }
  }
  const ids = rows.map((r) => r.id);
  if (ids.length) {
    const processed = await db.select().from(loyaltyProcessedEvents).where(inArray(loyaltyProcessedEvents.orderId, ids));
    const events = await db.select().from(orderEvents).where(inArray(orderEvents.orderId, ids));
    const outbox = new Set(events.map((e) => e.eventId));
    const applied = processed.filter((p) => p.outcome === "applied");
    const perOrderVersion = new Set(applied.map((p) => `${p.orderId}@${p.version}`));
    if (perOrderVersion.size !== applied.length) problems.push("an order's version was applied twice");
    for (const p of processed) if (!outbox.has(p.eventId)) problems.push(`processed event ${p.eventId} is not in the outbox`);
    const done = new Set(processed.map((p) => p.eventId));
    for (const e of events)
      if (!done.has(e.eventId)) problems.push(`outbox event ${e.eventId} (${e.type} of ${e.orderId}) never processed`);
  }
  return problems;
}

/** Every event of the sale in the outbox, by order: types in version order. */
export async function outboxByOrder(db: Db, saleId: string): Promise<Map<string, string[]>> {
  const rows = await db.select().from(orderEvents).where(eq(orderEvents.saleId, saleId)).orderBy(orderEvents.seq);
  const by = new Map<string, string[]>();
  for (const r of rows) by.set(r.orderId, [...(by.get(r.orderId) ?? []), `${r.version}:${r.type}`]);
  return by;
}
