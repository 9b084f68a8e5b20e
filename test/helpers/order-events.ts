import { and, eq, inArray, isNull, lte, sql } from "drizzle-orm";
import type { Admin, Kafka } from "kafkajs";
import type { Db } from "../../apps/core/db/client.js";
import { orderEvents, orders } from "../../apps/core/db/schema/index.js";
import { consumerLag, consumerTiming, createConsumer } from "../../apps/core/kafka.js";
import { type OrderEvent, orderEventSchema } from "../../apps/domain/order-events.js";
import { loyaltyBalances, loyaltyOrders, loyaltyProcessedEvents } from "../../apps/loyalty/db/schema.js";
import { pointsFor } from "../../apps/loyalty/ledger.js";
import { randomId } from "./env.js";
import { sleep } from "./wait.js";

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

/**
 * Reads the topic whole: every partition from its start up to the high watermark it had when
 * called (a group of its own). Waits for that outcome, not for a time: on a starved machine a
 * fetch may take long, and a reader that stops on a clock (or on a message count, which a
 * redelivery inflates) reports events as missing that are only unread. `timeoutMs` only bounds
 * a reader that stopped moving; then `complete` is false and `behind` says by how much.
 */
export async function readTopicWhole(kafka: Kafka, admin: Admin, topic: string, timeoutMs = 60_000) {
  const ends = (await admin.fetchTopicOffsets(topic)).map((p) => ({ partition: p.partition, high: Number(p.high) }));
  const watch = await watchTopic(kafka, topic);
  const behind = () => {
    const next = new Map<number, number>();
    for (const s of watch.seen) next.set(s.partition, Math.max(next.get(s.partition) ?? 0, s.offset + 1));
    return ends.reduce((n, e) => n + Math.max(0, e.high - (next.get(e.partition) ?? 0)), 0);
  };
  // The bound restarts whenever the reader moves: only a reader that stopped gives up.
  let lastCount = -1;
  let lastMove = Date.now();
  while (behind() > 0 && Date.now() - lastMove < timeoutMs) {
    if (watch.seen.length !== lastCount) {
      lastCount = watch.seen.length;
      lastMove = Date.now();
    }
    await sleep(100);
  }
  await watch.stop();
  const left = behind();
  return { seen: watch.seen, high: ends.reduce((n, e) => n + e.high, 0), complete: left === 0, behind: left };
}

/**
 * What still moves in a sale (empty = it has come to rest, and comparing it end to end means
 * something): payments the API accepted and the lifecycle worker has not applied (its group's
 * committed offsets lag the payments topic; a parked payment holds its offset back), orders past
 * their pay-by still pending (the expiry worker has not closed them), unsent outbox events, and
 * differences between the loyalty ledger and the orders table. The ledger and the outbox alone
 * are not enough: both agree with the orders table while a payment still waits in Kafka, and
 * the order changes after the comparison.
 */
export async function unsettled(
  deps: { db: Db; admin: Admin; paymentsGroupId: string; paymentsTopic: string },
  saleId: string,
): Promise<string[]> {
  const { db } = deps;
  const lag = await consumerLag(deps.admin, deps.paymentsGroupId, deps.paymentsTopic);
  const [due] = await db
    .select({ n: sql<number>`COUNT(*)` })
    .from(orders)
    .where(and(eq(orders.saleId, saleId), eq(orders.status, "pending_payment"), lte(orders.payBy, sql`NOW(3)`)));
  const [unsent] = await db
    .select({ n: sql<number>`COUNT(*)` })
    .from(orderEvents)
    .where(and(eq(orderEvents.saleId, saleId), isNull(orderEvents.sentAt)));
  const diff = await ledgerDiff(db, saleId);
  return [
    ...(lag > 0 ? [`${lag} payment(s) not applied yet`] : []),
    ...(Number(due.n) > 0 ? [`${due.n} order(s) past their pay-by still pending`] : []),
    ...(Number(unsent.n) > 0 ? [`${unsent.n} outbox event(s) unsent`] : []),
    ...(diff.length ? [`ledger differs: ${diff.slice(0, 3).join("; ")} (${diff.length} in all)`] : []),
  ];
}

/** One sale's orders and outbox as of one MySQL snapshot (a REPEATABLE READ transaction). */
export async function saleSnapshot(db: Db, saleId: string) {
  return db.transaction(
    async (tx) => {
      const rows = await tx.select({ id: orders.id, status: orders.status }).from(orders).where(eq(orders.saleId, saleId));
      const outbox = await tx
        .select({ eventId: orderEvents.eventId, orderId: orderEvents.orderId, version: orderEvents.version })
        .from(orderEvents)
        .where(eq(orderEvents.saleId, saleId));
      return { rows, outbox };
    },
    { isolationLevel: "repeatable read" },
  );
}

/**
 * Checks the order events of a sale against its orders (as of `saleSnapshot`) and what the topic
 * held: each order's outbox rows are exactly versions 1..expectedVersion(status) (no state change
 * without its event, no event without its change); every outbox event reached the topic at
 * least once and none reached it that the outbox does not hold; per order, events first arrive
 * in version order (a repeat of an event already delivered is counted in lateRepeats). `seen` may hold other sales' events; they are ignored.
 */
export function compareEvents(snapshot: Awaited<ReturnType<typeof saleSnapshot>>, seen: readonly Seen[]) {
  const orderIds = new Set(snapshot.rows.map((r) => r.id));
  const ofSale = seen.filter((s) => orderIds.has(s.event.orderId));
  const onTopic = new Set(ofSale.map((s) => s.event.eventId));
  // Per order, the versions in the order their events first arrived. Delivery is at least once,
  // so an event may come again later (a relay killed between Kafka's ack and its mark re-sends);
  // consumers drop a repeat by eventId, so a repeat is counted apart (lateRepeats), not as order.
  const arrived = new Map<string, number[]>();
  const firstSeen = new Set<string>();
  let lateRepeats = 0;
  for (const s of ofSale) {
    const got = arrived.get(s.event.orderId) ?? [];
    if (firstSeen.has(s.event.eventId)) {
      if (got.some((v) => v > s.event.version)) lateRepeats++;
      continue;
    }
    firstSeen.add(s.event.eventId);
    arrived.set(s.event.orderId, [...got, s.event.version]);
  }
  const outboxOf = new Map<string, number[]>();
  for (const e of snapshot.outbox) outboxOf.set(e.orderId, [...(outboxOf.get(e.orderId) ?? []), e.version]);
  const problems: string[] = [];
  let outOfOrder = 0;
  let missing = 0;
  let outboxWrong = 0;
  for (const r of snapshot.rows) {
    const want = Array.from({ length: Math.max(0, expectedVersion(r.status)) }, (_, i) => i + 1);
    const have = [...(outboxOf.get(r.id) ?? [])].sort((a, b) => a - b);
    if (have.join() !== want.join()) {
      outboxWrong++;
      if (problems.length < 5) problems.push(`${r.id}: ${r.status}, outbox versions [${have}], want [${want}]`);
    }
    const v = arrived.get(r.id) ?? [];
    if (v.some((x, i) => i > 0 && x < v[i - 1])) outOfOrder++;
  }
  for (const e of snapshot.outbox)
    if (!onTopic.has(e.eventId)) {
      missing++;
      if (problems.length < 5) problems.push(`${e.orderId}: outbox event v${e.version} (${e.eventId}) not on the topic`);
    }
  const inOutbox = new Set(snapshot.outbox.map((e) => e.eventId));
  const strays = [...onTopic].filter((id) => !inOutbox.has(id)).length;
  if (strays && problems.length < 5) problems.push(`${strays} event(s) on the topic that the outbox does not hold`);
  const missingOrders = new Set(snapshot.outbox.filter((e) => !onTopic.has(e.eventId)).map((e) => e.orderId)).size;
  return {
    messages: ofSale.length,
    resent: ofSale.length - onTopic.size,
    outOfOrder,
    lateRepeats,
    missing,
    missingOrders,
    outboxWrong,
    strays,
    problems,
  };
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
