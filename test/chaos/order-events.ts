import { existsSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { and, eq, inArray, isNull, notInArray, sql } from "drizzle-orm";
import { orderEvents, orders } from "../../apps/core/db/schema/index.js";
import { newOrderId } from "../../apps/core/ids.js";
import { type Services, sharedKafkaAdmin } from "../../apps/core/services.js";
import { simulatePayment } from "../../apps/payment-simulator/simulate.js";
import { expectedVersion, ledgerDiff, watchTopic } from "../helpers/order-events.js";
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
 * and the topic must hold every order's events in version order (resends allowed, nothing missing).
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

  // Recovery: every payment applied, every event relayed, and the ledger equal to the orders table.
  let diff: string[] = ["not checked"];
  const deadline = Date.now() + 180_000;
  while (Date.now() < deadline) {
    diff = await ledgerDiff(db, saleId).catch((err) => [`cannot compare: ${(err as Error).message}`]);
    const unsent = await db
      .select({ n: sql<number>`COUNT(*)` })
      .from(orderEvents)
      .where(and(eq(orderEvents.saleId, saleId), isNull(orderEvents.sentAt)))
      .catch(() => [{ n: -1 }]);
    if (diff.length === 0 && Number(unsent[0].n) === 0) break;
    await sleep(500);
  }
  const ledgerMs = Date.now() - faultEnd;
  notes.push(
    diff.length
      ? `ledger differs: ${diff.slice(0, 3).join("; ")} (${diff.length} in all)`
      : `ledger = orders ${(ledgerMs / 1000).toFixed(1)} s after the last fault`,
  );

  // The topic, read whole by a fresh group: per order, versions never go back and none is missing.
  const admin = await sharedKafkaAdmin(c.services)();
  const high = (await admin.fetchTopicOffsets(c.services.topics.orderEvents)).reduce((s, p) => s + Number(p.high), 0);
  const watch = await watchTopic(c.services.kafka, c.services.topics.orderEvents);
  for (let i = 0; i < 600 && watch.seen.length < high; i++) await sleep(100);
  await watch.stop();
  const rows = await db.select({ id: orders.id, status: orders.status }).from(orders).where(eq(orders.saleId, saleId));
  const versions = new Map<string, number[]>();
  for (const s of watch.seen)
    if (s.event.saleId === saleId) versions.set(s.event.orderId, [...(versions.get(s.event.orderId) ?? []), s.event.version]);
  let outOfOrder = 0;
  let missing = 0;
  for (const r of rows) {
    const v = versions.get(r.id) ?? [];
    if (v.some((x, i) => i > 0 && x < v[i - 1])) outOfOrder++;
    const distinct = [...new Set(v)];
    if (distinct.length !== expectedVersion(r.status)) missing++;
  }
  const ofSale = watch.seen.filter((s) => s.event.saleId === saleId);
  const resent = ofSale.length - new Set(ofSale.map((s) => s.event.eventId)).size;
  notes.push(`${ofSale.length} event messages (${resent} resent), ${outOfOrder} orders out of order, ${missing} with events missing`);

  return {
    saleId,
    load,
    stock: users * 2,
    faultEnd,
    notes,
    extraPass: diff.length === 0 && unmarked > 0 && resent >= unmarked && outOfOrder === 0 && missing === 0 && watch.seen.length >= high,
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
