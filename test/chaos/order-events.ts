import { existsSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { and, eq, inArray, notInArray, sql } from "drizzle-orm";
import { orders } from "../../apps/core/db/schema/index.js";
import { newOrderId } from "../../apps/core/ids.js";
import { type Services, sharedKafkaAdmin } from "../../apps/core/services.js";
import { simulatePayment } from "../../apps/payment-simulator/simulate.js";
import { compareEvents, readTopicWhole, saleSnapshot, unsettled } from "../helpers/order-events.js";
import type { LoadResult } from "./load.js";
import type { ChaosPlatform } from "./platform.js";
import type { ChaosStack } from "./stack.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface EventsCtx {
  stack: ChaosStack;
  platform: ChaosPlatform;
  services: Services;
  createSale(stock: number): Promise<string>;
  load(saleId: string, users: number, rate: number, prefix?: string): Promise<LoadResult>;
}

/**
 * While buyers buy, a third of the stored orders pay, a third expire and some of those pay late;
 * meanwhile the relay is SIGKILLed between Kafka's ack and the mark, all brokers go down, then
 * MySQL does. After recovery the loyalty ledger (its own process) must equal the orders table,
 * and the topic must hold every order's events in version order (resends allowed, nothing missing),
 * compared once the sale is at rest, never on a clock (see `unsettled`).
 */
export async function orderEventsChaos(c: EventsCtx, size: "short" | "full") {
  const short = size === "short";
  const users = short ? 1200 : 5000;
  const outageMs = short ? 5000 : 20_000;
  const saleId = await c.createSale(users * 2);
  const db = c.services.database.db;
  const notes: string[] = [];

  let loadDone = false;
  const loading = c.load(saleId, users, short ? 60 : 90).finally(() => {
    loadDone = true;
  });
  const activity = startActivity(c, saleId);

  // 1. The relay dies between Kafka's ack and the mark.
  await sleep(2000);
  const marker = join(tmpdir(), `seckill-chaos-marker-${newOrderId()}`);
  await c.platform.kill("lifecycle");
  await c.platform.start("lifecycle", { main: "test/chaos/lifecycle-crash-after-send.ts", env: { CHAOS_MARKER_FILE: marker } });
  let unmarked = 0;
  for (let i = 0; i < 300 && !unmarked; i++) {
    await sleep(100);
    if (existsSync(marker)) unmarked = Number(readFileSync(marker, "utf8").split("\n")[0]);
  }
  await c.platform.kill("lifecycle");
  await c.platform.start("lifecycle");
  rmSync(marker, { force: true });
  notes.push(unmarked ? `relay SIGKILLed with ${unmarked} event(s) acknowledged, not marked` : "relay never reached the window");
  // 2. All brokers down.
  await sleep(2000);
  await c.stack.control.brokerDown(-1);
  await sleep(outageMs);
  await c.stack.control.brokerUp(-1);
  // 3. MySQL down.
  await sleep(2000);
  await c.stack.stopMysql();
  await sleep(outageMs);
  await c.stack.startMysql();
  const faultEnd = Date.now();
  notes.push(`brokers down ${outageMs / 1000} s, MySQL down ${outageMs / 1000} s`);

  const load = await loading;
  void loadDone;
  const acted = await activity.stop();
  notes.push(`${acted.paid} paid, ${acted.expired} expired, ${acted.late} late payments`);

  // Recovery: waits for the sale to come to rest (every accepted payment applied, every due
  // order closed, every event relayed, the ledger equal to the orders table), then compares one
  // MySQL snapshot with the topic read whole. The ledger and the outbox agree with the orders
  // table while payments still wait in Kafka; comparing then counts their events as missing.
  const admin = await sharedKafkaAdmin(c.services)();
  const settleDeps = {
    db,
    admin,
    paymentsGroupId: `${c.platform.config.ORDER_WRITER_GROUP_ID}-payments`,
    paymentsTopic: c.services.topics.payments,
  };
  let moving: string[] = ["not checked"];
  let earlyLook: string | undefined;
  const deadline = Date.now() + 180_000;
  while (Date.now() < deadline) {
    moving = await unsettled(settleDeps, saleId).catch((err) => [`cannot compare: ${(err as Error).message}`]);
    if (moving.length === 0) break;
    // What a look at the ledger and the outbox alone would have taken for recovered.
    if (!earlyLook && moving.every((m) => !m.startsWith("ledger") && !m.includes("outbox") && !m.startsWith("cannot")))
      earlyLook = moving.join(", ");
    await sleep(500);
  }
  const ledgerMs = Date.now() - faultEnd;
  notes.push(
    moving.length
      ? `not at rest after 180 s: ${moving.join("; ")}`
      : `ledger = orders ${(ledgerMs / 1000).toFixed(1)} s after the last fault${earlyLook ? ` (the ledger matched earlier with ${earlyLook})` : ""}`,
  );

  // Per order: the outbox holds exactly its state changes, the topic every outbox event, in version order.
  const snapshot = await saleSnapshot(db, saleId);
  const topic = await readTopicWhole(c.services.kafka, admin, c.services.topics.orderEvents);
  const cmp = compareEvents(snapshot, topic.seen);
  notes.push(
    `${cmp.messages} event messages (${cmp.resent} resent), ${cmp.outOfOrder} orders out of order, ${cmp.lateRepeats} repeat(s) of an older version after a newer one, ${cmp.missingOrders} with events missing, ${cmp.outboxWrong} with outbox rows unlike their state${topic.complete ? "" : `; topic not read whole (${topic.behind} message(s) unread)`}`,
  );
  if (cmp.problems.length) notes.push(`e.g. ${cmp.problems.join("; ")}`);

  return {
    saleId,
    load,
    stock: users * 2,
    faultEnd,
    notes,
    extraPass:
      moving.length === 0 &&
      unmarked > 0 &&
      cmp.resent >= unmarked &&
      cmp.outOfOrder === 0 &&
      cmp.missing === 0 &&
      cmp.outboxWrong === 0 &&
      cmp.strays === 0 &&
      topic.complete,
  };
}

/** Pays, expires and late-pays the sale's stored orders every 300 ms until stopped; tolerates outages (retries next round). */
function startActivity(c: EventsCtx, saleId: string) {
  const db = c.services.database.db;
  const paid = new Set<string>();
  const expired = new Set<string>();
  const late = new Set<string>();
  let on = true;
  const pay = async (orderId: string) => {
    const [d] = await simulatePayment({
      baseUrl: c.platform.gatewayUrl,
      secret: c.platform.config.PAYMENT_WEBHOOK_SECRET,
      orderId,
      amountCents: 100,
    }).catch(() => [{ status: 0 }]);
    return d.status === 200;
  };
  const running = (async () => {
    while (on) {
      await sleep(300);
      try {
        const pending = await db
          .select({ id: orders.id })
          .from(orders)
          .where(
            and(eq(orders.saleId, saleId), eq(orders.status, "pending_payment"), paid.size ? notInArray(orders.id, [...paid]) : undefined),
          )
          .limit(60);
        const fresh = pending.filter((o) => !expired.has(o.id));
        const toExpire = fresh.filter((_, i) => i % 2 === 1).map((o) => o.id);
        if (toExpire.length) {
          await db.update(orders).set({ payBy: sql`NOW(3) - INTERVAL 1 SECOND` }).where(inArray(orders.id, toExpire));
          for (const id of toExpire) expired.add(id);
        }
        await Promise.all(
          fresh
            .filter((_, i) => i % 2 === 0)
            .map(async (o) => {
              if (await pay(o.id)) paid.add(o.id);
            }),
        );
        const closed = await db
          .select({ id: orders.id })
          .from(orders)
          .where(and(eq(orders.saleId, saleId), eq(orders.status, "closed")))
          .limit(200);
        await Promise.all(
          closed
            .filter((o) => !late.has(o.id) && o.id.charCodeAt(25) % 3 === 0)
            .slice(0, 10)
            .map(async (o) => {
              if (await pay(o.id)) late.add(o.id);
            }),
        );
      } catch {
        // MySQL or the gateway away: next round
      }
    }
  })();
  return {
    async stop() {
      on = false;
      await running;
      return { paid: paid.size, expired: expired.size, late: late.size };
    },
  };
}
