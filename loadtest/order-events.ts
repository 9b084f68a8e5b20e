import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { and, count, eq, isNull } from "drizzle-orm";
import mysql from "mysql2/promise";
import { createAdminRoutes } from "../apps/admin/app.js";
import { createApi } from "../apps/api/app.js";
import { loadConfig } from "../apps/core/config.js";
import { migrateDatabase } from "../apps/core/db/client.js";
import { orderEvents, orders } from "../apps/core/db/schema/index.js";
import { newOrderId } from "../apps/core/ids.js";
import { signUserToken } from "../apps/core/jwt.js";
import { connectedProducer, createProducer } from "../apps/core/kafka.js";
import { createLogger } from "../apps/core/logger.js";
import { deleteByPrefix } from "../apps/core/redis.js";
import { listen } from "../apps/core/serve.js";
import { createServices } from "../apps/core/services.js";
import { orderEvent } from "../apps/domain/order-events.js";
import { createGateway } from "../apps/gateway/app.js";
import { createOutboxRelay } from "../apps/lifecycle/outbox-relay.js";
import { createLifecycle } from "../apps/lifecycle/worker.js";
import { startLoyalty } from "../apps/loyalty/start.js";
import { createOrderWriter } from "../apps/order-writer/writer.js";
import { simulatePayment } from "../apps/payment-simulator/simulate.js";
import { startStack } from "../infra/stack.js";

/**
 * `npm run figures:events [-- --events N --orders N --rate N]`: the order-events figures.
 *
 * 1. End-to-end delay at a steady load: `--orders` orders bought through the gateway, then paid
 *    at `--rate` signed callbacks a second; per order, the time from sending the callback to the
 *    loyalty ledger committing its order.paid (callback -> seckill.payments -> payments consumer
 *    -> MySQL + outbox -> relay -> seckill.order-events -> ledger). p50/p99/max, and per stage.
 * 2. Relay throughput: N outbox rows written up front, then one relay (and then two side by
 *    side) drains them into the Kafka mock; events/s from the start to the last mark.
 *
 * Runs on the embedded stack (Redis and MariaDB reused or started, a Kafka mock of its own) in a
 * database of its own, dropped at the end. Prints the figures and writes
 * loadtest/results/order-events.json.
 */
const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const EVENTS = arg("events", 30_000);
const ORDERS = arg("orders", 600);
const RATE = arg("rate", 10);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] : 0;
};

const dbName = `seckill_fig_${randomBytes(4).toString("hex")}`;
const stack = await startStack({ database: dbName, kafkaBrokers: 3 });
const config = loadConfig({
  NODE_ENV: "test",
  LOG_LEVEL: "warn",
  REDIS_URL: stack.redisUrl,
  DATABASE_URL: stack.databaseUrl,
  KAFKA_BROKERS: stack.kafkaBrokers,
  REDIS_KEY_PREFIX: `fig:${dbName}:`,
  KAFKA_SESSION_TIMEOUT_MS: "3000",
  KAFKA_FETCH_MAX_WAIT_MS: "50",
  MAX_INFLIGHT_PURCHASES: "100000",
  RATE_LIMIT_PER_SEC: "1000",
  ORDER_WRITER_MAX_ROWS_PER_SEC: "20000",
});
await migrateDatabase(config.DATABASE_URL!);
const services = createServices(config, createLogger({ level: "warn" }));
const db = services.database.db;
const out: Record<string, unknown> = { at: new Date().toISOString(), events: EVENTS, orders: ORDERS, ratePerSec: RATE };

try {
  // 1. End-to-end delay: payment callback -> the ledger applies order.paid.
  const api = createApi({ services });
  const admin = createAdminRoutes({ services });
  const gateway = createGateway({ services, apiFetch: api.app.fetch, admin });
  const writer = createOrderWriter(services);
  const lifecycle = createLifecycle(services, { expiryIntervalMs: 3_600_000, reconcileIntervalMs: 0 });
  const applied = new Map<string, number>();
  await Promise.all([api.start(), gateway.start(), writer.start(), lifecycle.start()]);
  const loyalty = await startLoyalty(services, {
    onApplied: (events) => {
      const now = Date.now();
      for (const e of events) if (e.type === "order.paid") applied.set(e.orderId, now);
    },
  });
  await Promise.all([writer.ready(), lifecycle.payments.ready(), loyalty.ready()]);
  const http = await listen(gateway.app, "127.0.0.1", 0);
  const base = `http://127.0.0.1:${http.port}`;
  try {
    const saleId = `fig-${newOrderId().toLowerCase()}`;
    const auth = { authorization: `Bearer ${config.ADMIN_TOKEN}`, "content-type": "application/json" };
    const now = Date.now();
    const created = await fetch(`${base}/admin/sales`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({
        id: saleId,
        title: "figures",
        priceCents: 1999,
        stock: ORDERS,
        startsAt: new Date(now - 1000).toISOString(),
        endsAt: new Date(now + 3600_000).toISOString(),
      }),
    });
    if (created.status !== 201) throw new Error(`create sale: ${created.status} ${await created.text()}`);
    await fetch(`${base}/admin/sales/${saleId}/preload?force=true`, { method: "POST", headers: auth });
    for (let i = 0; i < ORDERS; i += 100) {
      await Promise.all(
        Array.from({ length: Math.min(100, ORDERS - i) }, async (_, j) => {
          const token = await signUserToken(config.JWT_SECRET, `fig-${i + j}`);
          const res = await fetch(`${base}/api/sales/${saleId}/orders`, {
            method: "POST",
            headers: { authorization: `Bearer ${token}` },
            body: "{}",
          });
          if (res.status !== 202) throw new Error(`purchase: ${res.status} ${await res.text()}`);
        }),
      );
    }
    for (;;) {
      const [r] = await db.select({ n: count() }).from(orders).where(eq(orders.saleId, saleId));
      if (Number(r.n) === ORDERS) break;
      await sleep(100);
    }
    const ids = (await db.select({ id: orders.id }).from(orders).where(eq(orders.saleId, saleId))).map((r) => r.id);
    await sleep(2000); // the order.created events of the purchases are through; what follows is the steady payment load
    const sentAt = new Map<string, number>();
    const t0 = Date.now();
    await Promise.all(
      ids.map(async (orderId, i) => {
        const due = t0 + (i / RATE) * 1000;
        if (due > Date.now()) await sleep(due - Date.now());
        sentAt.set(orderId, Date.now());
        const [d] = await simulatePayment({ baseUrl: base, secret: config.PAYMENT_WEBHOOK_SECRET, orderId, amountCents: 1999 });
        if (d.status !== 200) throw new Error(`callback answered ${d.status} ${d.body}`);
      }),
    );
    const deadline = Date.now() + 120_000;
    while (applied.size < ids.length && Date.now() < deadline) await sleep(100);
    const delays = ids.filter((id) => applied.has(id)).map((id) => applied.get(id)! - sentAt.get(id)!);
    const e2e = {
      paid: delays.length,
      p50Ms: Math.round(pct(delays, 50)),
      p99Ms: Math.round(pct(delays, 99)),
      maxMs: Math.round(Math.max(...delays)),
    };
    // Where the time goes: callback -> row paid (payments consumer), paid -> Kafka ack (relay), ack -> ledger.
    const stages = await db
      .select({ id: orders.id, paidAt: orders.paidAt, sentAt: orderEvents.sentAt })
      .from(orders)
      .innerJoin(orderEvents, eq(orderEvents.orderId, orders.id))
      .where(and(eq(orders.saleId, saleId), eq(orderEvents.type, "order.paid")));
    const stage = (f: (r: (typeof stages)[number]) => number) => {
      const xs = stages.filter((r) => r.paidAt && r.sentAt && applied.has(r.id)).map(f);
      return { p50Ms: Math.round(pct(xs, 50)), p99Ms: Math.round(pct(xs, 99)) };
    };
    const breakdown = {
      callbackToPaid: stage((r) => r.paidAt!.getTime() - sentAt.get(r.id)!),
      paidToRelayed: stage((r) => r.sentAt!.getTime() - r.paidAt!.getTime()),
      relayedToApplied: stage((r) => applied.get(r.id)! - r.sentAt!.getTime()),
    };
    out.endToEnd = { ...e2e, breakdown };
    process.stdout.write(`  breakdown (p50/p99 ms): ${JSON.stringify(breakdown)}\n`);
    process.stdout.write(
      `end to end (callback -> ledger applies order.paid), ${RATE} payments/s for ${ids.length} orders: p50 ${e2e.p50Ms} ms, p99 ${e2e.p99Ms} ms, max ${e2e.maxMs} ms (${e2e.paid} of ${ids.length} applied)\n`,
    );
  } finally {
    await http.close();
    await gateway.stop();
    await api.stop();
    await writer.stop();
    await lifecycle.stop();
    await loyalty.stop();
  }
  // 2. Relay throughput (after the end-to-end run: the ledger would otherwise first read this whole backlog).
  async function backlog(n: number) {
    for (let i = 0; i < n; i += 1000) {
      const rows = Array.from({ length: Math.min(1000, n - i) }, (_, j) =>
        orderEvent("order.created", { id: newOrderId(), saleId: "fig-relay", userId: `u${i + j}`, amountCents: 1999 }, new Date()),
      );
      await db.insert(orderEvents).values(rows);
    }
  }
  async function drain(relays: number): Promise<number> {
    const producers = Array.from({ length: relays }, () => connectedProducer(createProducer(services.kafka)));
    await Promise.all(producers.map((p) => p.ensureConnected()));
    const rs = producers.map((producer) =>
      createOutboxRelay(
        { database: services.database, producer, topic: services.topics.orderEvents, metrics: services.metrics, logger: services.logger },
        {
          batchSize: config.ORDER_EVENTS_BATCH_SIZE,
          intervalMs: config.ORDER_EVENTS_RELAY_INTERVAL_MS,
        },
      ),
    );
    const t0 = performance.now();
    for (const r of rs) r.start();
    for (;;) {
      const [r] = await db.select({ n: count() }).from(orderEvents).where(isNull(orderEvents.sentAt));
      if (Number(r.n) === 0) break;
      await sleep(20);
    }
    const seconds = (performance.now() - t0) / 1000;
    await Promise.all(rs.map((r) => r.stop()));
    await Promise.all(producers.map((p) => p.disconnect()));
    return EVENTS / seconds;
  }
  await backlog(EVENTS);
  const one = await drain(1);
  await backlog(EVENTS);
  const two = await drain(2);
  out.relay = { oneRelayEventsPerSec: Math.round(one), twoRelaysEventsPerSec: Math.round(two), batchSize: config.ORDER_EVENTS_BATCH_SIZE };
  process.stdout.write(
    `relay: ${Math.round(one)} events/s with one relay, ${Math.round(two)} with two (${EVENTS} events, batches of ${config.ORDER_EVENTS_BATCH_SIZE})\n`,
  );
} finally {
  await deleteByPrefix(services.redis, config.REDIS_KEY_PREFIX);
  await services.close();
  const conn = await mysql.createConnection({ uri: config.DATABASE_URL!.replace(/[^/]+$/, "") });
  await conn.query(`DROP DATABASE IF EXISTS \`${dbName}\``);
  await conn.end();
  await stack.stop();
}
const dir = fileURLToPath(new URL("./results/", import.meta.url));
mkdirSync(dir, { recursive: true });
writeFileSync(`${dir}order-events.json`, JSON.stringify(out, null, 2));
process.exit(0);
