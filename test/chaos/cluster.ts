import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Cluster } from "ioredis";
import { createSaleStore } from "../../apps/domain/sale-store.js";
import { clusterHealthy, provideRedisCluster } from "../../infra/redis-cluster.js";
import { type Ctx, crashedResult, formatTable, type ScenarioResult, withPlatform } from "./scenarios.js";

/**
 * `npm run chaos:cluster [-- --short]`: fault scenarios on a Redis cluster of their own (3 masters
 * + 3 replicas, AOF everysec), the platform as processes (gateway, API, order writer, lifecycle)
 * on it, a crowd buying a sale split over 8 stock buckets. Each scenario checks 0 oversold, 0
 * lost, 0 duplicate orders and every unit sold (demand is twice the stock), and reports how long
 * the sale stayed closed. Not part of npm test (each takes tens of seconds). Exits 1 on a failure.
 */
const size = process.argv.includes("--short") ? "short" : "full";
const dataDir = mkdtempSync(join(tmpdir(), "seckill-chaos-cluster-"));
const cluster = await provideRedisCluster({ dataDir, reuseDefault: false, freePorts: true });
const ports = cluster.nodes.map((n) => n.port);
const env = { REDIS_CLUSTER_NODES: cluster.url, RECONCILE_INTERVAL_MS: "5000" };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The process of the master serving the sale's first bucket now. */
async function masterOf(c: Ctx, saleId: string) {
  const store = createSaleStore(c.services.redis, c.platform.config.REDIS_KEY_PREFIX);
  const slot = (await store.saleSlots(saleId))[0];
  const owner = (c.services.redis as Cluster).slots[slot][0];
  const node = cluster.nodes.find((n) => owner === `127.0.0.1:${n.port}`);
  if (!node) throw new Error(`no node serves ${owner}`);
  return node;
}

/** From `since`: when the sale was first seen closed (blocked or lost), and when it sold again. */
function watchClosed(c: Ctx, saleId: string) {
  const store = createSaleStore(c.services.redis, c.platform.config.REDIS_KEY_PREFIX);
  let closedAt: number | undefined;
  let reopenedAt: number | undefined;
  let on = true;
  void (async () => {
    while (on && reopenedAt === undefined) {
      const open = await Promise.all([store.isBlocked(saleId), store.isLoaded(saleId)]).then(
        ([blocked, loaded]) => !blocked && loaded,
        () => false,
      );
      if (!open) closedAt ??= Date.now();
      else if (closedAt !== undefined) reopenedAt = Date.now();
      await sleep(100);
    }
  })();
  return (since: number) => {
    on = false;
    return closedAt === undefined
      ? "never closed"
      : reopenedAt === undefined
        ? "still closed"
        : `closed ${((reopenedAt - since) / 1000).toFixed(1)} s after the fault`;
  };
}

async function masterFault(name: string, empty: boolean): Promise<ScenarioResult> {
  return withPlatform(
    name,
    size,
    async (c) => {
      const users = size === "short" ? 1200 : 4000;
      const stock = users / 2;
      const saleId = await c.createSale(stock, 8);
      const loading = c.load(saleId, users, size === "short" ? 200 : 300);
      await sleep(2000);
      const victim = await masterOf(c, saleId);
      const closed = watchClosed(c, saleId);
      const faultAt = Date.now();
      victim.kill();
      if (empty) await victim.start({ empty: true });
      const load = await loading;
      const closedFor = closed(faultAt);
      if (!empty) await victim.start(); // back as a replica of its successor
      for (let i = 0; i < 600 && !(await clusterHealthy(ports)); i++) await sleep(100);
      const accepted = load.accepted.size;
      return {
        saleId,
        load,
        stock,
        faultEnd: faultAt,
        notes: [
          `killed master :${victim.port}${empty ? " and restarted it empty" : ""}`,
          closedFor,
          `accepted ${accepted} of stock ${stock}`,
        ],
        extraPass: accepted === stock,
      };
    },
    env,
    ["order-writer", "lifecycle", "api", "gateway"],
  );
}

const scenarios: Record<string, () => Promise<ScenarioResult>> = {
  "c1 master SIGKILL, replica promoted": () => masterFault("cluster: master SIGKILL + failover", false),
  "c2 master restarted empty": () => masterFault("cluster: master restarted empty", true),
  "c3 gateway SIGKILL": () =>
    withPlatform(
      "cluster: gateway SIGKILL",
      size,
      async (c) => {
        const users = size === "short" ? 1200 : 4000;
        const stock = users / 2;
        const saleId = await c.createSale(stock, 8);
        const loading = c.load(saleId, users, size === "short" ? 200 : 300);
        await sleep(2000);
        const faultAt = Date.now();
        await c.platform.kill("gateway");
        await sleep(1000);
        await c.platform.start("gateway");
        const load = await loading;
        return {
          saleId,
          load,
          stock,
          faultEnd: faultAt,
          notes: [`accepted ${load.accepted.size} of stock ${stock}`],
          extraPass: load.accepted.size === stock,
        };
      },
      env,
      ["order-writer", "lifecycle", "api", "gateway"],
    ),
};

const results: ScenarioResult[] = [];
try {
  for (const [name, run] of Object.entries(scenarios)) {
    process.stderr.write(`running ${name} (${size})...\n`);
    try {
      results.push(await run());
    } catch (err) {
      results.push(crashedResult(name, err));
    }
  }
} finally {
  await cluster.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
process.stdout.write(`\n${formatTable(results)}\n`);
const dir = fileURLToPath(new URL("../../loadtest/results/", import.meta.url));
mkdirSync(dir, { recursive: true });
writeFileSync(`${dir}chaos-cluster-${size}.json`, JSON.stringify({ at: new Date().toISOString(), size, results }, null, 2));
process.exit(results.every((r) => r.pass) ? 0 : 1);
