import { and, count, eq, isNull, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { orderEvents, orders } from "../../apps/core/db/schema/index.js";
import { newOrderId } from "../../apps/core/ids.js";
import { connectedProducer, createProducer } from "../../apps/core/kafka.js";
import { createOutboxRelay, type OutboxRelayOptions } from "../../apps/lifecycle/outbox-relay.js";
import { applyPayment } from "../../apps/lifecycle/payments.js";
import { persistOrders } from "../../apps/order-writer/persist.js";
import { ledgerDiff, watchTopic } from "../helpers/order-events.js";
import { startTestPlatform, type TestPlatform } from "../helpers/platform.js";
import { deferred, eventually, sleep } from "../helpers/wait.js";

// The platform's own relay is off: each test drives relays by hand.
let p: TestPlatform;
let watch: Awaited<ReturnType<typeof watchTopic>>;
const producers: ReturnType<typeof connectedProducer>[] = [];
beforeAll(async () => {
  p = await startTestPlatform({ lifecycle: { relay: false }, loyalty: true });
  watch = await watchTopic(p.services.kafka, p.services.topics.orderEvents);
});
afterAll(async () => {
  await Promise.all(producers.map((x) => x.disconnect()));
  await watch.stop();
  await p.stop();
});

const db = () => p.services.database.db;

function relay(opts: OutboxRelayOptions = {}, wrapSend?: (send: () => Promise<unknown>) => Promise<unknown>) {
  const real = connectedProducer(createProducer(p.services.kafka));
  producers.push(real);
  const producer = wrapSend ? { ...real, send: (r: Parameters<typeof real.send>[0]) => wrapSend(() => real.send(r)) } : real;
  return createOutboxRelay(
    {
      database: p.services.database,
      producer: producer as typeof real,
      topic: p.services.topics.orderEvents,
      metrics: p.services.metrics,
      logger: p.services.logger,
    },
    opts,
  );
}

/** n orders of a new sale stored by the writer's code path (each with its order.created event, unsent). */
async function storedOrders(n: number) {
  const saleId = `relay-${newOrderId().toLowerCase()}`;
  const now = Date.now();
  const messages = Array.from({ length: n }, (_, i) => ({
    v: 1 as const,
    orderId: newOrderId(),
    saleId,
    userId: `${saleId}-u${i}`, // buyers of their own: the ledger's balances are per user
    slot: 1,
    quantity: 1 as const,
    amountCents: 900,
    acceptedAt: now,
    payBy: now + 600_000,
  }));
  await persistOrders(db(), messages);
  return { saleId, ids: messages.map((m) => m.orderId) };
}

const payDirect = (orderId: string) =>
  applyPayment(p.services, p.api.ctx.store, {
    v: 1,
    eventId: `evt-${orderId}`,
    orderId,
    providerTxnId: `txn-${orderId}`,
    amountCents: 900,
    status: "succeeded",
    receivedAt: Date.now(),
  });

const unsent = async (saleId: string) =>
  Number(
    (
      await db()
        .select({ n: count() })
        .from(orderEvents)
        .where(and(eq(orderEvents.saleId, saleId), isNull(orderEvents.sentAt)))
    )[0].n,
  );
const seenOf = (saleId: string) => watch.seen.filter((s) => s.event.saleId === saleId);

describe("outbox relay", () => {
  it("a relay that dies between Kafka's ack and the mark leaves its batch unsent; the next pass sends it again and the ledger applies each event once", async () => {
    const { saleId } = await storedOrders(10);
    const crashing = relay({
      afterSend: async () => {
        throw new Error("crashed after the send, before the mark");
      },
    });
    await expect(crashing.relayOnce()).rejects.toThrow(/crashed/);
    expect(await unsent(saleId)).toBe(10); // nothing marked
    await eventually("the first copies reached Kafka", () => seenOf(saleId).length === 10 || null);

    expect(await relay().relayOnce()).toMatchObject({ sent: 10, held: 0 });
    expect(await unsent(saleId)).toBe(0);
    await eventually("both copies on the topic", () => seenOf(saleId).length === 20 || null);
    const ids = seenOf(saleId).map((s) => s.event.eventId);
    expect(new Set(ids).size).toBe(10); // the same ten events, twice
    await eventually("the ledger agrees", async () => (await ledgerDiff(db(), saleId)).length === 0 || null);
  });

  it("with several relays, an order's later event waits while another relay holds its earlier one", async () => {
    const { saleId, ids } = await storedOrders(3);
    for (const id of ids) expect(await payDirect(id)).toEqual({ kind: "applied", outcome: "applied" });
    // Relay A takes the oldest event (order 0, version 1) and is slow to get it to Kafka.
    const gate = deferred();
    const claimed = deferred();
    const slow = relay({ batchSize: 1 }, async (send) => {
      claimed.resolve();
      await gate.promise;
      return send();
    });
    const aPass = slow.relayOnce();
    await claimed.promise;
    // Relay B takes everything else: order 0's version 2 must wait for A; the others go.
    const b = relay({ batchSize: 100 });
    expect(await b.relayOnce()).toEqual({ claimed: 5, sent: 4, held: 1 });
    const [v2] = await db()
      .select()
      .from(orderEvents)
      .where(and(eq(orderEvents.orderId, ids[0]), eq(orderEvents.version, 2)));
    expect(v2.sentAt).toBeNull();
    gate.resolve();
    expect(await aPass).toEqual({ claimed: 1, sent: 1, held: 0 });
    expect(await b.relayOnce()).toEqual({ claimed: 1, sent: 1, held: 0 });

    await eventually("six events on the topic", () => seenOf(saleId).length === 6 || null);
    for (const id of ids)
      expect(
        seenOf(saleId)
          .filter((s) => s.event.orderId === id)
          .map((s) => s.event.version),
      ).toEqual([1, 2]);
  });

  it("four relays draining one backlog together publish every event once, in version order per order", async () => {
    const { saleId, ids } = await storedOrders(200);
    await Promise.all(ids.filter((_, i) => i % 2 === 0).map(payDirect));
    await db()
      .update(orders)
      .set({ payBy: sql`NOW(3) - INTERVAL 1 SECOND` })
      .where(and(eq(orders.saleId, saleId), eq(orders.status, "pending_payment")));
    await p.lifecycle!.expiry.runOnce();
    const relays = Array.from({ length: 4 }, () => relay({ batchSize: 25, intervalMs: 20 }));
    for (const r of relays) r.start();
    try {
      await eventually("drained", async () => (await unsent(saleId)) === 0 || null, 60_000);
    } finally {
      await Promise.all(relays.map((r) => r.stop()));
    }
    await eventually("400 events on the topic", () => seenOf(saleId).length >= 400 || null);
    await sleep(300);
    const seen = seenOf(saleId);
    expect(seen).toHaveLength(400);
    for (const id of ids) expect(seen.filter((s) => s.event.orderId === id).map((s) => s.event.version)).toEqual([1, 2]);
    await eventually("the ledger agrees", async () => (await ledgerDiff(db(), saleId)).length === 0 || null).catch(async (err) => {
      console.log((await ledgerDiff(db(), saleId)).slice(0, 10));
      throw err;
    });
  });

  it("prunes sent events past the retention and keeps unsent ones, however old", async () => {
    const { saleId, ids } = await storedOrders(4);
    const r = relay({ retentionHours: 1 });
    await r.relayOnce();
    expect(await unsent(saleId)).toBe(0);
    // Two sent long ago, one unsent event of long ago (a relay outage must not lose it).
    await db()
      .update(orderEvents)
      .set({ sentAt: sql`NOW(3) - INTERVAL 2 HOUR` })
      .where(and(eq(orderEvents.saleId, saleId), sql`${orderEvents.orderId} IN (${ids[0]}, ${ids[1]})`));
    await db().update(orderEvents).set({ sentAt: null, queuedAt: sql`NOW(3) - INTERVAL 3 HOUR` }).where(eq(orderEvents.orderId, ids[2]));
    expect(await r.prune()).toBeGreaterThanOrEqual(2);
    const left = await db().select().from(orderEvents).where(eq(orderEvents.saleId, saleId));
    expect(left.map((e) => e.orderId).sort()).toEqual([ids[2], ids[3]].sort());
    // The lag gauge shows the old unsent event's age.
    await r.refreshBacklog();
    expect((await p.services.metrics.orderEventsLag.get()).values[0].value).toBeGreaterThan(3 * 3600 - 60);
    expect((await p.services.metrics.orderEventsUnsent.get()).values[0].value).toBeGreaterThanOrEqual(1);
    await r.relayOnce();
    await r.refreshBacklog();
    expect((await p.services.metrics.orderEventsLag.get()).values[0].value).toBe(0);
  });
});
