import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { count, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Config } from "../../apps/core/config.js";
import { migrateDatabase } from "../../apps/core/db/client.js";
import { orders } from "../../apps/core/db/schema/index.js";
import { newOrderId } from "../../apps/core/ids.js";
import { createProducer } from "../../apps/core/kafka.js";
import { createLogger } from "../../apps/core/logger.js";
import { createServices, type Services } from "../../apps/core/services.js";
import { createOrderWriter, type OrderWriter } from "../../apps/order-writer/writer.js";
import { provideMysql } from "../../infra/mariadb-server.js";
import type { Provided } from "../../infra/stack.js";
import { randomId, testConfig } from "../helpers/env.js";
import { eventually, sleep } from "../helpers/wait.js";

/**
 * The writer's group membership must survive a MySQL outage much longer than the session
 * timeout (3 s here), and a rebalance in the middle of it: chaos once ended with 11,875 of
 * 12,000 orders unwritten after the writer was evicted while it waited for MySQL.
 */
const dataDir = mkdtempSync(join(tmpdir(), "seckill-eviction-"));
let mysql: Provided;
let port: number;
let config: Config;
beforeAll(async () => {
  // A MariaDB of this file's own, so it can be stopped without touching anyone else's.
  mysql = await provideMysql({ dataDir, reuseDefault: false });
  port = Number(new URL(mysql.url).port);
  const databaseUrl = `${mysql.url}seckill_eviction`;
  await migrateDatabase(databaseUrl);
  config = { ...(await testConfig()), DATABASE_URL: databaseUrl, KAFKA_SESSION_TIMEOUT_MS: 3000 };
});
afterAll(async () => {
  await mysql?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

function orderMessages(saleId: string, from: number, n: number) {
  const now = Date.now();
  return Array.from({ length: n }, (_, i) => {
    const m = {
      v: 1,
      orderId: newOrderId(),
      saleId,
      userId: `u${from + i}`,
      slot: 1,
      quantity: 1,
      amountCents: 100,
      acceptedAt: now,
      payBy: now + 60_000,
    };
    return { key: m.orderId, value: JSON.stringify(m) };
  });
}

async function rowsOf(services: Services, saleId: string): Promise<number> {
  const [r] = await services.database.db.select({ n: count() }).from(orders).where(eq(orders.saleId, saleId));
  return Number(r.n);
}

describe("order writer evicted or rebalanced while MySQL is away", () => {
  it("writes every order after a MySQL outage five times the session timeout, without any other help", async () => {
    const services = createServices(config, createLogger({ level: "silent" }));
    const writer = createOrderWriter(services, { maxRowsPerSec: 50_000 });
    const producer = createProducer(services.kafka);
    await Promise.all([writer.start(), producer.connect()]);
    await writer.ready();
    const saleId = randomId("evict-");
    try {
      await producer.send({ topic: services.topics.orders, acks: -1, messages: orderMessages(saleId, 0, 100) });
      await eventually("first 100 persisted", async () => (await rowsOf(services, saleId)) === 100);

      await mysql.stop();
      await producer.send({ topic: services.topics.orders, acks: -1, messages: orderMessages(saleId, 100, 400) });
      await sleep(15_000);
      mysql = await provideMysql({ dataDir, reuseDefault: false, port });

      await eventually(
        "all 500 persisted after MySQL came back",
        async () => (await rowsOf(services, saleId).catch(() => -1)) === 500,
        60_000,
        250,
      );
      expect(await rowsOf(services, saleId)).toBe(500);
    } finally {
      await writer.stop();
      await producer.disconnect();
      await services.close();
    }
  }, 120_000);

  it("writes every order when a second writer joins the group while the first waits for MySQL", async () => {
    const groupConfig = { ...config, ORDER_WRITER_GROUP_ID: randomId("writer-rebalance-") };
    const services = createServices(groupConfig, createLogger({ level: "silent" }));
    const first = createOrderWriter(services, { maxRowsPerSec: 50_000 });
    let second: OrderWriter | undefined;
    const producer = createProducer(services.kafka);
    await Promise.all([first.start(), producer.connect()]);
    await first.ready();
    const saleId = randomId("rebal-");
    try {
      await mysql.stop();
      await producer.send({ topic: services.topics.orders, acks: -1, messages: orderMessages(saleId, 0, 400) });
      await sleep(5000); // the first writer is deep in its retry backoff
      second = createOrderWriter(services, { maxRowsPerSec: 50_000 });
      await second.start();
      await sleep(5000);
      mysql = await provideMysql({ dataDir, reuseDefault: false, port });

      await eventually(
        "all 400 persisted after MySQL came back",
        async () => (await rowsOf(services, saleId).catch(() => -1)) === 400,
        60_000,
        250,
      );
      expect(await rowsOf(services, saleId)).toBe(400);
    } finally {
      await second?.stop();
      await first.stop();
      await producer.disconnect();
      await services.close();
    }
  }, 120_000);
});
