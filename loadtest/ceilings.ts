import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { loadConfig } from "../apps/core/config.js";
import { newOrderId } from "../apps/core/ids.js";
import { createLogger } from "../apps/core/logger.js";
import { createRedis, createRedisPool, deleteByPrefix, type Redis } from "../apps/core/redis.js";
import { reserveKeys, saleKeys } from "../apps/domain/keys.js";
import { orderMessageHead } from "../apps/domain/order-message.js";
import { createSaleStore } from "../apps/domain/sale-store.js";

const ROOT = fileURLToPath(new URL("../", import.meta.url));

/**
 * Reserve ceiling: reserve-6.lua called from Node at full concurrency (auto-pipelined), against
 * redis-benchmark running EVALSHA of a trivial script on the same server (the yardstick:
 * how close the Node side gets to what Redis itself can take), and against redis-benchmark
 * running reserve-6.lua itself with random buyers (what Redis can take of this script with no
 * client cost at all: the part of the gap that is the script's own work, not Node's).
 */
export async function reserveCeiling(opts: { redisUrl: string; prefix: string; seconds: number; concurrency?: number }) {
  const redis = createRedis(opts.redisUrl, createLogger({ level: "silent" }));
  const r = createSaleStore(redis, opts.prefix);
  const url = new URL(opts.redisUrl);
  const bench = (args: string[]) => {
    const out = execFileSync("redis-benchmark", ["-h", url.hostname, "-p", url.port || "6379", "-q", "-n", "200000", "-c", "50", ...args], {
      encoding: "utf8",
    });
    const m = /([\d.]+) requests per second/.exec(out.split("\r").pop() ?? out);
    return m ? Number(m[1]) : Number.NaN;
  };
  const sale = async (saleId: string) => {
    const now = Date.now();
    await r.preload(
      saleId,
      {
        totalStock: 100_000_000,
        startsAt: new Date(now - 1000),
        endsAt: new Date(now + 3600_000),
        perUserLimit: 1,
        priceCents: 1,
        paymentTimeoutSeconds: 900,
      },
      true,
    );
    return saleId;
  };
  // Leave no trace: the sales' keys (handoff records included) go.
  const drop = async (saleId: string) => {
    await deleteByPrefix(redis, `${opts.prefix}{sale:${saleId}}`);
    await redis.srem(r.global.activeSales, saleId);
  };

  // As the API calls it: spread over REDIS_RESERVE_CONNECTIONS connections; and over one, in the
  // same run, for what the pool buys.
  const connections = loadConfig({}).REDIS_RESERVE_CONNECTIONS;
  const drive = async (reserveVia: Redis[]) => {
    const via = createSaleStore(redis, opts.prefix, { reserveVia });
    const saleId = await sale(`ceiling-${Date.now()}`);
    let done = 0;
    let user = 0;
    const until = Date.now() + opts.seconds * 1000;
    const worker = async () => {
      while (Date.now() < until) {
        await via.reserve(saleId, `c${user++}`, newOrderId());
        done++;
      }
    };
    const started = performance.now();
    await Promise.all(Array.from({ length: opts.concurrency ?? 1024 }, worker));
    const ops = done / ((performance.now() - started) / 1000);
    await drop(saleId);
    return ops;
  };
  const pool = createRedisPool(redis, connections);
  const nodeOps = await drive(pool.clients);
  await pool.close();
  const nodeOpsOneConnection = await drive([redis]);

  const trivialOps = bench(["evalsha", String(await redis.script("LOAD", "return 1")), "0"]);
  const scriptSale = await sale(`ceiling-rb-${Date.now()}`);
  const k = saleKeys(opts.prefix, scriptSale);
  const sha = String(await redis.script("LOAD", readFileSync(`${ROOT}lua/reserve-6.lua`, "utf8")));
  const scriptArgs = [
    "-r",
    "100000000",
    "evalsha",
    sha,
    "6",
    ...reserveKeys(k),
    "o__rand_int__",
    "u__rand_int__",
    "",
    `${opts.prefix}ceiling-channel`,
    scriptSale,
    "60000",
    orderMessageHead("o__rand_int__", scriptSale, "u__rand_int__"),
  ];
  const scriptOps = bench(scriptArgs);
  // Pipelined 16 deep, as auto-pipelined clients send: the script's own cost in Redis, with
  // little of the per-request syscall cost left.
  const scriptPipelinedOps = bench(["-P", "16", ...scriptArgs]);
  await drop(scriptSale);
  redis.disconnect();
  return { nodeOps, connections, nodeOpsOneConnection, benchOps: trivialOps, scriptOps, scriptPipelinedOps, ratio: nodeOps / trivialOps };
}

/**
 * Writer: rows/s the order writer persists unthrottled into MariaDB, and how closely it holds
 * `throttle` rows/s. Messages go straight onto a Kafka mock of its own; rates are measured
 * from the first persisted row to the last (the consumer group's join time excluded).
 */
export async function writerThroughput(opts: {
  databaseUrl: string;
  rows: number;
  throttle: number;
  /** Wraps the unthrottled measurement only (e.g. a CPU profile of it). */
  around?: <T>(work: () => Promise<T>) => Promise<T>;
}) {
  const { startKafkaMock } = await import("../infra/kafka-mock/launch.js");
  const { createServices } = await import("../apps/core/services.js");
  const { createOrderWriter } = await import("../apps/order-writer/writer.js");
  const { createProducer, topicNames, TOPIC_PARTITIONS } = await import("../apps/core/kafka.js");
  const { migrateDatabase } = await import("../apps/core/db/client.js");
  const names = topicNames();
  const mock = await startKafkaMock({ brokers: 1, topics: { [names.orders]: TOPIC_PARTITIONS.orders, [names.ordersDlq]: 1 } });
  await migrateDatabase(opts.databaseUrl);
  const config = loadConfig({
    DATABASE_URL: opts.databaseUrl,
    REDIS_URL: "redis://127.0.0.1:6379",
    KAFKA_BROKERS: mock.url,
    KAFKA_SESSION_TIMEOUT_MS: "3000",
    KAFKA_FETCH_MAX_WAIT_MS: "50",
    LOG_LEVEL: "silent",
  });
  const services = createServices(config, createLogger({ level: "silent" }));
  const producer = createProducer(services.kafka);
  await producer.connect();
  const produce = async (count: number, saleId: string) => {
    for (let i = 0; i < count; i += 1000) {
      const now = Date.now();
      await producer.send({
        topic: names.orders,
        acks: -1,
        messages: Array.from({ length: Math.min(1000, count - i) }, (_, j) => {
          const orderId = newOrderId();
          return {
            key: orderId,
            value: JSON.stringify({
              v: 1,
              orderId,
              saleId,
              userId: `w${i + j}`,
              slot: 1,
              quantity: 1,
              amountCents: 1,
              acceptedAt: now,
              payBy: now + 900_000,
            }),
          };
        }),
      });
    }
  };
  const persisted = async () => (await services.metrics.ordersPersisted.get()).values[0]?.value ?? 0;
  async function measure(target: number, maxRowsPerSec: number, groupId: string) {
    const writer = createOrderWriter(services, { maxRowsPerSec, groupId });
    const before = await persisted();
    await writer.start();
    // Only the rows persisted after the first ones were seen count: those were persisted before
    // the clock started (counting them overstated the rate by a batch or so per partition worker).
    let first = 0;
    let atFirst = 0;
    let n = 0;
    for (;;) {
      n = (await persisted()) - before;
      if (n > 0 && !first) {
        first = performance.now();
        atFirst = n;
      }
      if (n >= target) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const seconds = (performance.now() - first) / 1000;
    await writer.stop();
    return (n - atFirst) / seconds;
  }
  const groupId = `bench-writer-${Date.now()}`;
  try {
    await produce(opts.rows, `writer-${Date.now()}`);
    const around = opts.around ?? ((work) => work());
    const unthrottled = await around(() => measure(opts.rows, 1e9, groupId));
    // Then 10 s worth of new rows at the throttle, same group (it continues after the first run).
    const throttledRows = opts.throttle * 10;
    await produce(throttledRows, `throttle-${Date.now()}`);
    const throttled = await measure(throttledRows, opts.throttle, groupId);
    return { unthrottled, throttled, throttleError: Math.abs(throttled - opts.throttle) / opts.throttle };
  } finally {
    await producer.disconnect();
    await services.close();
    await mock.stop();
    const { default: mysql } = await import("mysql2/promise");
    const u = new URL(opts.databaseUrl);
    const conn = await mysql.createConnection({ uri: `${u.protocol}//${u.username}@${u.host}/` });
    await conn.query(`DROP DATABASE IF EXISTS \`${u.pathname.slice(1)}\``);
    await conn.end();
  }
}

/** Deletes every Redis key under `prefix` (a bench run's own), and only those. */
export async function dropRedisPrefix(redisUrl: string, prefix: string): Promise<number> {
  const redis = createRedis(redisUrl, createLogger({ level: "silent" }));
  const n = await deleteByPrefix(redis, prefix);
  redis.disconnect();
  return n;
}

/**
 * The writer's yardstick: what MariaDB itself takes of the writer's work on this box. `rows`
 * orders, each with its `order.created` outbox row, inserted with bare mysql2 (one multi-row
 * `INSERT ... VALUES ?` per table, client-side escaped, no ORM, no Kafka, no validation) in
 * transactions of `batchSize` rows, `concurrency` of them in flight (the writer's
 * ORDER_WRITER_BATCH_SIZE and partitionsConsumedConcurrently), into the migrated tables of a
 * scratch database of its own, dropped after. Returns rows/s from the first BEGIN to the last
 * COMMIT.
 */
export async function insertCeiling(opts: { databaseUrl: string; rows: number; batchSize: number; concurrency: number }): Promise<number> {
  const { migrateDatabase } = await import("../apps/core/db/client.js");
  const { default: mysql } = await import("mysql2/promise");
  await migrateDatabase(opts.databaseUrl);
  const pool = mysql.createPool({ uri: opts.databaseUrl, connectionLimit: opts.concurrency, timezone: "Z" });
  const saleId = `ceiling-${Date.now()}`;
  const batches: { orders: unknown[][]; events: unknown[][] }[] = [];
  const now = Date.now();
  for (let i = 0; i < opts.rows; i += opts.batchSize) {
    const orders: unknown[][] = [];
    const events: unknown[][] = [];
    for (let j = i; j < Math.min(opts.rows, i + opts.batchSize); j++) {
      const id = newOrderId();
      const at = new Date(now);
      orders.push([id, saleId, `w${j}`, 1, 1, 1, 1, "pending_payment", at, new Date(), new Date(now + 900_000)]);
      events.push([newOrderId(), "order.created", id, saleId, `w${j}`, 1, 1, at]);
    }
    batches.push({ orders, events });
  }
  try {
    const started = performance.now();
    let next = 0;
    const worker = async () => {
      const conn = await pool.getConnection();
      try {
        for (let b = next++; b < batches.length; b = next++) {
          await conn.beginTransaction();
          await conn.query(
            "INSERT INTO orders (id, sale_id, user_id, slot, live_slot, quantity, amount_cents, status, created_at, persisted_at, pay_by) VALUES ?",
            [batches[b].orders],
          );
          await conn.query(
            "INSERT INTO order_events (event_id, type, order_id, sale_id, user_id, amount_cents, version, occurred_at) VALUES ?",
            [batches[b].events],
          );
          await conn.commit();
        }
      } finally {
        conn.release();
      }
    };
    await Promise.all(Array.from({ length: opts.concurrency }, worker));
    return opts.rows / ((performance.now() - started) / 1000);
  } finally {
    await pool.query(`DROP DATABASE IF EXISTS \`${new URL(opts.databaseUrl).pathname.slice(1)}\``);
    await pool.end();
  }
}
