import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { count, eq } from "drizzle-orm";
import { afterAll, describe, expect, it } from "vitest";
import { migrateDatabase } from "../../apps/core/db/client.js";
import { orders } from "../../apps/core/db/schema/index.js";
import { newOrderId } from "../../apps/core/ids.js";
import { createProducer } from "../../apps/core/kafka.js";
import { createLogger } from "../../apps/core/logger.js";
import { createServices } from "../../apps/core/services.js";
import { createOrderWriter } from "../../apps/order-writer/writer.js";
import { provideMysql } from "../../infra/mariadb-server.js";
import type { Provided } from "../../infra/stack.js";
import { randomId, testConfig } from "../helpers/env.js";
import { eventually, sleep } from "../helpers/wait.js";

const dataDir = mkdtempSync(join(tmpdir(), "seckill-outage-"));
let mysql: Provided | undefined;
afterAll(async () => {
  await mysql?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe("order writer while MySQL is away", () => {
  it("holds its batches, retries with backoff, and persists everything once MySQL is back: nothing lost, nothing skipped", async () => {
    // A MariaDB of this test's own, so it can be stopped without touching anyone else's.
    mysql = await provideMysql({ dataDir, reuseDefault: false });
    const port = Number(new URL(mysql.url).port);
    const databaseUrl = `${mysql.url}seckill_outage`;
    await migrateDatabase(databaseUrl);
    const config = { ...(await testConfig()), DATABASE_URL: databaseUrl };
    const services = createServices(config, createLogger({ level: "silent" }));
    const writer = createOrderWriter(services, { maxRowsPerSec: 50_000 });
    const producer = createProducer(services.kafka);
    await Promise.all([writer.start(), producer.connect()]);
    await writer.ready();
    const saleId = randomId("outage-");
    const send = async (from: number, n: number) => {
      const now = Date.now();
      await producer.send({
        topic: services.topics.orders,
        acks: -1,
        messages: Array.from({ length: n }, (_, i) => {
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
        }),
      });
    };
    const rows = async () => {
      const [r] = await services.database.db.select({ n: count() }).from(orders).where(eq(orders.saleId, saleId));
      return Number(r.n);
    };
    const retries = async () => (await services.metrics.writerRetries.get()).values[0]?.value ?? 0;

    try {
      await send(0, 200);
      await eventually("first 200 persisted", async () => (await rows()) === 200);

      await mysql.stop();
      await send(200, 300);
      await eventually("the writer notices and retries", async () => (await retries()) >= 2, 20_000);
      await sleep(1500);

      mysql = await provideMysql({ dataDir, reuseDefault: false, port });
      await eventually("all 500 persisted after MySQL came back", async () => (await rows().catch(() => -1)) === 500, 60_000);
      await sleep(500);
      expect(await rows()).toBe(500);
    } finally {
      await writer.stop();
      await producer.disconnect();
      await services.close();
    }
  });
});
