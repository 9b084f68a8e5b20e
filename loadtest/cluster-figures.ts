import { eq } from "drizzle-orm";
import mysql from "mysql2/promise";
import { createAdminRoutes } from "../apps/admin/app.js";
import { createApi } from "../apps/api/app.js";
import { loadConfig } from "../apps/core/config.js";
import { migrateDatabase } from "../apps/core/db/client.js";
import { orders } from "../apps/core/db/schema/index.js";
import { newOrderId } from "../apps/core/ids.js";
import { signUserToken } from "../apps/core/jwt.js";
import { createLogger } from "../apps/core/logger.js";
import { createRedis, createRedisPool, deleteByPrefix, masters, type Redis } from "../apps/core/redis.js";
import { createServices } from "../apps/core/services.js";
import { createSaleStore } from "../apps/domain/sale-store.js";
import { createGateway } from "../apps/gateway/app.js";
import { createOrderWriter } from "../apps/order-writer/writer.js";
import { provideRedis } from "../infra/redis-server.js";
import { DEFAULT_DATA_DIR, startStack } from "../infra/stack.js";

/**
 * `npm run figures:cluster`: the scale-out figures the README quotes, printed (nothing asserted).
 *
 * 1. One hot sale split over 8 stock buckets on the local cluster's 3 masters: the share of
 *    reserve-script calls each master ran (INFO commandstats, EVALSHA + EVAL, reset first).
 * 2. Reserves/s from one Node process: one Redis server (one bucket) vs the cluster (1 and 8
 *    buckets), same run, same client settings (auto-pipelining, REDIS_RESERVE_CONNECTIONS).
 * 3. A crowd through the gateway on the cluster, stockBuckets 1 vs 8: accepted (= stock),
 *    persisted (= accepted), time to sell out and to persist every order.
 *
 * The cluster is the embedded one (started or reused on 7101-7106, data in .data/), the single
 * Redis the one on 6379 (reused or started); keys go under a prefix of this run's own and are
 * deleted at the end, as is the run's database. The time a sale stays closed after a master
 * failover is measured by `npm run chaos:cluster` (it kills masters, so it has a cluster of its own).
 */
const seconds = Number(process.env.FIGURES_SECONDS ?? 5);
const prefix = `figures${Date.now().toString(36)}:`;
const logger = createLogger({ level: "silent" });
const stack = await startStack({ env: { REDIS_MODE: "cluster" }, database: prefix.replace(":", ""), dataDir: DEFAULT_DATA_DIR });
const single = await provideRedis({ dataDir: DEFAULT_DATA_DIR, reuseDefault: true });
const clusterNodes = stack.redisClusterNodes;
if (!clusterNodes) throw new Error("expected the embedded Redis cluster");
const connections = loadConfig({}).REDIS_RESERVE_CONNECTIONS;
const line = (s: string) => process.stdout.write(`${s}\n`);

/** Reserves/s of one sale with `buckets` buckets, distinct buyers, 1024 in flight, `seconds` long. */
async function drive(redis: Redis, buckets: number): Promise<{ ops: number; saleId: string }> {
  const pool = createRedisPool(redis, connections);
  const store = createSaleStore(redis, prefix, { reserveVia: pool.clients });
  const saleId = `fig-${buckets}-${Date.now().toString(36)}`;
  const now = Date.now();
  await store.preload(
    saleId,
    {
      totalStock: 50_000_000,
      startsAt: new Date(now - 1000),
      endsAt: new Date(now + 3600_000),
      perUserLimit: 1,
      priceCents: 1,
      paymentTimeoutSeconds: 900,
      stockBuckets: buckets,
    },
    true,
  );
  let done = 0;
  let user = 0;
  const until = Date.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: 1024 }, async () => {
      while (Date.now() < until) {
        await store.reserve(saleId, `u${user++}`, newOrderId());
        done++;
      }
    }),
  );
  const ops = done / ((performance.now() - started) / 1000);
  await pool.close();
  return { ops, saleId };
}

async function scriptCalls(redis: Redis): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const node of masters(redis)) {
    const info = await node.info("commandstats");
    const calls = [...info.matchAll(/cmdstat_(?:evalsha|eval):calls=(\d+)/g)].reduce((s, m) => s + Number(m[1]), 0);
    out.set(`${node.options.host}:${node.options.port}`, calls);
  }
  return out;
}

const cluster = createRedis(clusterNodes, logger);
const one = createRedis(single.url, logger);
await cluster.ping();
try {
  // 1 + 2: reserve throughput and its spread over the masters.
  line(`# Scale-out figures (${new Date().toISOString()}, ${seconds} s per run, ${connections} reserve connections, 1024 in flight)\n`);
  const singleOps = (await drive(one, 1)).ops;
  const cluster1 = (await drive(cluster, 1)).ops;
  for (const node of masters(cluster)) await node.config("RESETSTAT");
  const cluster8 = (await drive(cluster, 8)).ops;
  const calls = await scriptCalls(cluster);
  const total = [...calls.values()].reduce((a, b) => a + b, 0);
  line("| reserve calls per master, 8 buckets | calls | share |");
  line("| --- | --- | --- |");
  for (const [node, n] of calls) line(`| ${node} | ${n.toLocaleString("en")} | ${((100 * n) / total).toFixed(1)} % |`);
  line("");
  line("| reserves/s, one Node process | per second |");
  line("| --- | --- |");
  line(`| one Redis server, 1 bucket | ${Math.round(singleOps).toLocaleString("en")} |`);
  line(`| cluster (3 masters), 1 bucket | ${Math.round(cluster1).toLocaleString("en")} |`);
  line(`| cluster (3 masters), 8 buckets | ${Math.round(cluster8).toLocaleString("en")} |`);
  line("");

  // 3: a crowd through the gateway on the cluster, 1 vs 8 buckets.
  const config = loadConfig({
    NODE_ENV: "test",
    LOG_LEVEL: "silent",
    REDIS_CLUSTER_NODES: clusterNodes,
    DATABASE_URL: stack.databaseUrl,
    KAFKA_BROKERS: stack.kafkaBrokers,
    REDIS_KEY_PREFIX: prefix,
    MAX_INFLIGHT_PURCHASES: "100000",
    RATE_LIMIT_PER_SEC: "1000",
  });
  await migrateDatabase(config.DATABASE_URL!);
  const services = createServices(config, logger);
  const api = createApi({ services });
  const gateway = createGateway({ services, apiFetch: api.app.fetch, admin: createAdminRoutes({ services }) });
  const writer = createOrderWriter(services, { maxRowsPerSec: 20_000 });
  await Promise.all([api.start(), gateway.start(), writer.start()]);
  await writer.ready();
  line("| crowd on the cluster: 5,000 buyers vs stock 1,000 | accepted | persisted | sold out after | all persisted after |");
  line("| --- | --- | --- | --- | --- |");
  for (const buckets of [1, 8]) {
    const saleId = `crowd-${buckets}-${Date.now().toString(36)}`;
    const admin = { authorization: `Bearer ${config.ADMIN_TOKEN}`, "content-type": "application/json" };
    const now = Date.now();
    const sale = { id: saleId, title: "figures", priceCents: 100, stock: 1000, stockBuckets: buckets };
    const window = { startsAt: new Date(now - 1000).toISOString(), endsAt: new Date(now + 3600_000).toISOString() };
    await gateway.app.request("/admin/sales", { method: "POST", headers: admin, body: JSON.stringify({ ...sale, ...window }) });
    await gateway.app.request(`/admin/sales/${saleId}/preload?force=true`, { method: "POST", headers: admin });
    const tokens = await Promise.all(Array.from({ length: 5000 }, (_, i) => signUserToken(config.JWT_SECRET, `${saleId}-${i}`)));
    const started = Date.now();
    let soldOutMs = 0;
    let accepted = 0;
    await Promise.all(
      tokens.map(async (t) => {
        const res = await gateway.app.request(`/api/sales/${saleId}/orders`, {
          method: "POST",
          headers: { authorization: `Bearer ${t}`, "content-type": "application/json" },
          body: "{}",
        });
        if (res.status === 202 && ++accepted === 1000) soldOutMs = Date.now() - started;
      }),
    );
    let persisted = 0;
    for (let i = 0; i < 1200 && persisted < accepted; i++) {
      persisted = (await services.database.db.select({ id: orders.id }).from(orders).where(eq(orders.saleId, saleId))).length;
      if (persisted < accepted) await new Promise((r) => setTimeout(r, 100));
    }
    const persistedMs = Date.now() - started;
    line(`| stockBuckets ${buckets} | ${accepted} | ${persisted} | ${soldOutMs} ms | ${persistedMs} ms |`);
  }
  await gateway.stop();
  await api.stop();
  await writer.stop();
  await services.close();
} finally {
  await deleteByPrefix(cluster, prefix);
  await deleteByPrefix(one, prefix);
  cluster.disconnect();
  one.disconnect();
  const conn = await mysql.createConnection({ uri: stack.databaseUrl.replace(/[^/]+$/, "") });
  await conn.query(`DROP DATABASE IF EXISTS \`${prefix.replace(":", "")}\``);
  await conn.end();
  await stack.stop();
  await single.stop();
}
