import { eq } from "drizzle-orm";
import { createAdminRoutes } from "../../apps/admin/app.js";
import { orders } from "../../apps/core/db/schema/index.js";
import { newOrderId } from "../../apps/core/ids.js";
import { consumerLag, consumerTiming, createConsumer, createProducer } from "../../apps/core/kafka.js";
import { createLogger } from "../../apps/core/logger.js";
import { createServices, type Services, sharedKafkaAdmin } from "../../apps/core/services.js";
import { API_KEY, KAFKA_ERROR } from "../../infra/kafka-mock/control.js";
import { createSaleVia } from "../helpers/sales.js";
import { startCpuHogs } from "./cpu-hog.js";
import { type LoadResult, percentile, runLoad } from "./load.js";
import { orderEventsChaos } from "./order-events.js";
import { type AppName, type ChaosPlatform, startChaosPlatform } from "./platform.js";
import { type ChaosStack, startChaosStack } from "./stack.js";
import { type Size, scenarioPasses } from "./verdict.js";

export type { Size };

export interface ScenarioResult {
  scenario: string;
  accepted: number;
  rows: number;
  duplicates: number;
  lost: number;
  oversold: number;
  recoverMs: number;
  pass: boolean;
  notes: string[];
}

/** The result of a scenario that threw: a failure that says why, so one crash ends no run. */
export function crashedResult(scenario: string, err: unknown): ScenarioResult {
  return {
    scenario,
    accepted: 0,
    rows: 0,
    duplicates: 0,
    lost: 0,
    oversold: 0,
    recoverMs: 0,
    pass: false,
    notes: [`crashed: ${(err as Error).stack}`],
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Ctx {
  stack: ChaosStack;
  platform: ChaosPlatform;
  services: Services;
  size: Size;
  createSale(stock: number, stockBuckets?: number): Promise<string>;
  load(saleId: string, users: number, rate: number, prefix?: string): Promise<LoadResult>;
  /** Samples the sale's pending handoff records every 200 ms; returns a stop() giving the peak. */
  sampleBacklog(saleId: string): () => number;
}

/** One scenario on a fresh stack and platform; checks the invariants after recovery. */
export async function withPlatform(
  name: string,
  size: Size,
  body: (ctx: Ctx) => Promise<{
    saleId: string;
    load: LoadResult;
    stock: number;
    faultEnd: number;
    notes?: string[];
    /** The scenario's own outcome checks (always asserted). */
    extraPass?: boolean;
    /** A latency bound: asserted only in the full run (see scenarioPasses). */
    latencyPass?: boolean;
    /** Runs after the drain check (e.g. stops CPU hogs that must last through the recovery). */
    after?: () => Promise<void>;
  }>,
  env: Record<string, string> = {},
  apps?: AppName[],
): Promise<ScenarioResult> {
  const stack = await startChaosStack();
  const platform = await startChaosPlatform(stack, name.replace(/\W+/g, "-"), env, apps);
  const services = createServices(platform.config, createLogger({ level: "silent" }));
  const admin = createAdminRoutes({ services });
  const ctx: Ctx = {
    stack,
    platform,
    services,
    size,
    createSale: (stock, stockBuckets) =>
      createSaleVia(admin, platform.config.ADMIN_TOKEN, {
        id: `chaos-${newOrderId().toLowerCase()}`,
        title: name,
        stock,
        priceCents: 100,
        stockBuckets,
      }),
    load: (saleId, users, rate, prefix) =>
      runLoad({
        gatewayUrl: platform.gatewayUrl,
        jwtSecret: platform.config.JWT_SECRET,
        saleId,
        users,
        ratePerSec: rate,
        userPrefix: prefix,
      }),
    sampleBacklog(saleId) {
      let peak = 0;
      let on = true;
      const key = `${platform.config.REDIS_KEY_PREFIX}{sale:${saleId}}:handoff`;
      void (async () => {
        while (on) {
          peak = Math.max(peak, await services.redis.hlen(key).catch(() => 0));
          await sleep(200);
        }
      })();
      return () => {
        on = false;
        return peak;
      };
    },
  };
  try {
    const out = await body(ctx);
    // Drained: every 202 is a row (or the deadline passed).
    const ids = new Set(out.load.accepted.values());
    let rows: { id: string; userId: string }[] = [];
    const deadline = Date.now() + 120_000;
    for (;;) {
      rows = await services.database.db.select({ id: orders.id, userId: orders.userId }).from(orders).where(eq(orders.saleId, out.saleId));
      const have = new Set(rows.map((r) => r.id));
      if ([...ids].every((id) => have.has(id)) || Date.now() > deadline) break;
      await sleep(250);
    }
    const recoverMs = Date.now() - out.faultEnd;
    await out.after?.();
    await sleep(1000); // a late duplicate would show up now
    rows = await services.database.db.select({ id: orders.id, userId: orders.userId }).from(orders).where(eq(orders.saleId, out.saleId));
    const have = new Set(rows.map((r) => r.id));
    const perUser = new Map<string, number>();
    for (const r of rows) perUser.set(r.userId, (perUser.get(r.userId) ?? 0) + 1);
    const duplicates = rows.length - have.size + [...perUser.values()].reduce((s, n) => s + n - 1, 0);
    const lost = [...ids].filter((id) => !have.has(id)).length;
    const oversold = Math.max(0, rows.length - out.stock);
    const lag = await consumerLag(await sharedKafkaAdmin(services)(), platform.config.ORDER_WRITER_GROUP_ID, services.topics.orders).catch(
      () => -1,
    );
    const notes = [...(out.notes ?? []), `writer lag ${lag}`, `answers ${JSON.stringify(out.load.statuses)}`];
    if (out.load.unresolved) notes.push(`${out.load.unresolved} buyer(s) without a final answer`);
    const invariantsHold = lost === 0 && duplicates === 0 && oversold === 0 && lag === 0 && out.load.unresolved === 0;
    const pass = scenarioPasses(size, { invariantsHold, extraPass: out.extraPass, latencyPass: out.latencyPass });
    if (out.latencyPass === false)
      notes.push(size === "full" ? "latency bound exceeded" : "latency bound exceeded (reported only: short run)");
    return { scenario: name, accepted: ids.size, rows: rows.length, duplicates, lost, oversold, recoverMs, pass, notes };
  } finally {
    await platform.stop();
    await services.close();
    await stack.stop();
  }
}

const n = (size: Size, short: number, full: number) => (size === "short" ? short : full);

export const SCENARIOS: Record<string, (size: Size) => Promise<ScenarioResult>> = {
  "1 writer SIGKILL every few s": (size) =>
    withPlatform("writer SIGKILL", size, async (c) => {
      const users = n(size, 1500, 10_000);
      const saleId = await c.createSale(users * 2);
      let done = false;
      const loading = c.load(saleId, users, n(size, 300, 400)).finally(() => {
        done = true;
      });
      let kills = 0;
      while (!done) {
        await sleep(n(size, 1500, 3000));
        if (done) break;
        await c.platform.kill("order-writer");
        kills++;
        await c.platform.start("order-writer");
      }
      const load = await loading;
      return { saleId, load, stock: users * 2, faultEnd: Date.now(), notes: [`${kills} writer kills`] };
    }),

  "2 API SIGKILL repeatedly": (size) =>
    withPlatform("API SIGKILL", size, async (c) => {
      const users = n(size, 1500, 6000);
      const saleId = await c.createSale(users * 2);
      let done = false;
      const loading = c.load(saleId, users, n(size, 300, 400)).finally(() => {
        done = true;
      });
      let kills = 0;
      let lastRestart = Date.now();
      while (!done && kills < n(size, 2, 5)) {
        await sleep(2500);
        await c.platform.kill("api");
        kills++;
        await sleep(500);
        await c.platform.start("api");
        lastRestart = Date.now();
      }
      const load = await loading;
      return { saleId, load, stock: users * 2, faultEnd: lastRestart, notes: [`${kills} API kills`] };
    }),

  "3 all Kafka brokers down": (size) =>
    withPlatform("Kafka down", size, async (c) => {
      const downs = size === "short" ? [5000] : [5000, 20_000, 60_000];
      const users = n(size, 2000, 30_000);
      const saleId = await c.createSale(users * 2);
      const peak = c.sampleBacklog(saleId);
      let done = false;
      const loading = c.load(saleId, users, n(size, 200, 300)).finally(() => {
        done = true;
      });
      const notes: string[] = [];
      let faultEnd = Date.now();
      for (const ms of downs) {
        await sleep(2000);
        await c.stack.control.brokerDown(-1);
        await sleep(ms);
        await c.stack.control.brokerUp(-1);
        faultEnd = Date.now();
        notes.push(`down ${ms / 1000} s`);
      }
      const load = await loading;
      void done;
      notes.push(`backlog peak ${peak()}`);
      return { saleId, load, stock: users * 2, faultEnd, notes };
    }),

  "4 Kafka request errors (Produce, Fetch)": (size) =>
    withPlatform("Kafka errors", size, async (c) => {
      const users = n(size, 1500, 8000);
      const saleId = await c.createSale(users * 2);
      const loading = c.load(saleId, users, n(size, 300, 400));
      const ctl = c.stack.control;
      // The mock's error stack is cluster-wide and each Fetch takes one error; kafkajs backs off
      // longer after every NOT_LEADER, so a wall of 30 Fetch errors idles every consumer for
      // minutes. A leader election causes a few per partition: Fetch bursts are that size.
      const plan: [number, number, number][] = [
        [API_KEY.Produce, KAFKA_ERROR.notLeaderForPartition, 30],
        [API_KEY.Fetch, KAFKA_ERROR.notLeaderForPartition, 6],
        [API_KEY.Produce, KAFKA_ERROR.requestTimedOut, 20],
        [API_KEY.Produce, KAFKA_ERROR.invalidRecord, 10],
        [API_KEY.Fetch, KAFKA_ERROR.unknownServerError, 3],
        [API_KEY.Produce, KAFKA_ERROR.transport, 5],
      ];
      for (const [api, code, count] of plan) {
        await sleep(n(size, 600, 2000));
        await ctl.pushRequestErrors(api, code, count);
      }
      const faultEnd = Date.now();
      const load = await loading;
      return { saleId, load, stock: users * 2, faultEnd, notes: [`${plan.length} error bursts (retriable and not)`] };
    }),

  "5 MySQL stopped": (size) =>
    withPlatform("MySQL stopped", size, async (c) => {
      const users = n(size, 2000, 12_000);
      const saleId = await c.createSale(users * 2);
      const loading = c.load(saleId, users, n(size, 250, 300));
      await sleep(2000);
      await c.stack.stopMysql();
      await sleep(n(size, 8000, 30_000));
      await c.stack.startMysql();
      const faultEnd = Date.now();
      const load = await loading;
      return { saleId, load, stock: users * 2, faultEnd, notes: [`MySQL down ${n(size, 8, 30)} s`] };
    }),

  "6 Redis SIGKILL + restart (AOF)": (size) =>
    withPlatform("Redis restart", size, async (c) => {
      const users = n(size, 2000, 10_000);
      const stock = Math.floor(users * 0.6); // the sale sells out: overselling would show
      const saleId = await c.createSale(stock);
      const loading = c.load(saleId, users, n(size, 300, 400));
      await sleep(n(size, 2500, 8000));
      await c.stack.restartRedis({ kill: true, downMs: 1000 });
      // What the periodic reconcile does: until it has recomputed the sale, purchases are refused.
      const headers = { authorization: `Bearer ${c.platform.config.ADMIN_TOKEN}` };
      const admin = createAdminRoutes({ services: c.services });
      let state = "";
      const t0 = Date.now();
      while (state !== "recomputed" && Date.now() - t0 < 60_000) {
        await sleep(1000);
        const r = await Promise.resolve(admin.request(`/admin/sales/${saleId}/reconcile`, { method: "POST", headers })).catch(() => null);
        state = r?.ok ? ((await r.json()) as { state: string }).state : "error";
      }
      const faultEnd = Date.now();
      const load = await loading;
      return {
        saleId,
        load,
        stock,
        faultEnd,
        notes: [`closed ${Date.now() - t0 > 60_000 ? "> 60 s" : `${faultEnd - t0} ms`} until reconcile reopened it`],
        extraPass: state === "recomputed",
      };
    }),

  "7 1% poison messages": (size) =>
    withPlatform("poison", size, async (c) => {
      const users = n(size, 1500, 8000);
      const rate = n(size, 300, 400);
      const persistP99 = async (saleId: string) => {
        const rows = await c.services.database.db
          .select({ a: orders.createdAt, b: orders.persistedAt })
          .from(orders)
          .where(eq(orders.saleId, saleId));
        return percentile(
          rows.map((r) => r.b.getTime() - r.a.getTime()),
          99,
        );
      };
      const waitRows = async (saleId: string, count: number) => {
        for (let i = 0; i < 240; i++) {
          const rows = await c.services.database.db.select({ id: orders.id }).from(orders).where(eq(orders.saleId, saleId));
          if (rows.length >= count) return;
          await sleep(250);
        }
      };
      // Baseline run, then the same with 1 % poison produced straight onto seckill.orders.
      const base = await c.createSale(users * 2);
      const baseLoad = await c.load(base, users, rate, "base");
      await waitRows(base, baseLoad.accepted.size);
      const baseP99 = await persistP99(base);

      const saleId = await c.createSale(users * 2);
      const producer = createProducer(c.services.kafka);
      await producer.connect();
      let poisoned = 0;
      let done = false;
      const loading = c.load(saleId, users, rate, "pois").finally(() => {
        done = true;
      });
      while (!done) {
        await sleep(1000 / (rate / 100)); // 1 in 100 of the accepted rate
        const bad = poisoned % 2 === 0 ? "{not json" : JSON.stringify({ v: 1, orderId: "nope", saleId, quantity: 3 });
        await producer.send({ topic: c.services.topics.orders, acks: -1, messages: [{ value: bad }] });
        poisoned++;
      }
      const load = await loading;
      await producer.disconnect();
      await waitRows(saleId, load.accepted.size);
      const p99 = await persistP99(saleId);
      // Count what the DLQ holds.
      const seen: string[] = [];
      const reader = createConsumer(c.services.kafka, { groupId: `dlq-check-${newOrderId()}`, ...consumerTiming(c.services.config) });
      await reader.connect();
      await reader.subscribe({ topic: c.services.topics.ordersDlq, fromBeginning: true });
      await reader.run({ eachMessage: async ({ message }) => void seen.push(String(message.headers?.reason)) });
      for (let i = 0; i < 60 && seen.length < poisoned; i++) await sleep(250);
      await reader.disconnect();
      const reasonsOk = seen.length === poisoned && seen.every((r) => r === "invalid_json" || r === "invalid_message");
      return {
        saleId,
        load,
        stock: users * 2,
        faultEnd: Date.now(),
        notes: [
          `${poisoned} poison, ${seen.length} in DLQ`,
          `persist p99 ${Math.round(p99)} ms vs ${Math.round(baseP99)} ms without poison (${(p99 / baseP99).toFixed(2)}x)`,
        ],
        extraPass: reasonsOk,
        latencyPass: p99 <= 2 * baseP99,
      };
    }),

  "8 slow network to Kafka (RTT 200 ms)": (size) =>
    withPlatform("Kafka RTT 200 ms", size, async (c) => {
      const users = n(size, 1200, 6000);
      const rate = n(size, 300, 400);
      const base = await c.createSale(users * 2);
      const baseLoad = await c.load(base, users, rate, "fast");
      const saleId = await c.createSale(users * 2);
      const peak = c.sampleBacklog(saleId);
      await c.stack.control.setRtt(-1, 200);
      const load = await c.load(saleId, users, rate, "slow");
      await c.stack.control.setRtt(-1, 0);
      const faultEnd = Date.now();
      const p99 = percentile(load.acceptLatencies, 99);
      const baseP99 = percentile(baseLoad.acceptLatencies, 99);
      const p50 = percentile(load.acceptLatencies, 50);
      const baseP50 = percentile(baseLoad.acceptLatencies, 50);
      return {
        saleId,
        load,
        stock: users * 2,
        faultEnd,
        notes: [
          `accept p50 ${p50.toFixed(1)} ms vs ${baseP50.toFixed(1)} ms at RTT 0, p99 ${p99.toFixed(1)} ms vs ${baseP99.toFixed(1)} ms`,
          `backlog peak ${peak()}`,
        ],
        // The 202 does not wait for Kafka: a 200 ms round trip must not reach the purchase answer.
        // Were it on the path, every answer would carry it, so the median would move by ~200 ms
        // against the same run's RTT-0 load. Compared with that neighbour, not with a fixed number:
        // with the cores saturated (--cpu-hog) the RTT-0 p99 alone was 525 ms.
        latencyPass: p50 < baseP50 + 100,
      };
    }),

  "9 writer evicted during a MySQL outage (CPU saturated, rebalance)": (size) =>
    withPlatform("writer eviction", size, async (c) => {
      // What once left 11,875 of 12,000 orders unwritten: the writer held in a MySQL retry far
      // past its session timeout (3 s here) on a machine with every core busy, and a group
      // member vanishing meanwhile (a rebalance in the middle of the retry).
      const users = n(size, 2000, 12_000);
      const outageMs = n(size, 12_000, 30_000);
      const saleId = await c.createSale(users * 2);
      await c.platform.start("order-writer-2");
      const hogs = startCpuHogs(n(size, 1, 2));
      const loading = c.load(saleId, users, n(size, 250, 300));
      await sleep(2000);
      await c.stack.stopMysql();
      await sleep(outageMs / 2);
      await c.platform.kill("order-writer-2");
      await sleep(outageMs / 2);
      await c.stack.startMysql();
      const faultEnd = Date.now();
      const load = await loading;
      return {
        saleId,
        load,
        stock: users * 2,
        faultEnd,
        notes: [`MySQL down ${outageMs / 1000} s`, `${hogs.count} CPU hog(s) until drained`, "second writer SIGKILLed mid-outage"],
        after: () => hogs.stop(),
      };
    }),
};

SCENARIOS["10 order events: relay SIGKILL between ack and mark, brokers down, MySQL down"] = (size) =>
  withPlatform("order events", size, (c) => orderEventsChaos(c, size), { EXPIRY_INTERVAL_MS: "500" }, [
    "order-writer",
    "api",
    "gateway",
    "lifecycle",
    "loyalty",
  ]);

export function formatTable(results: ScenarioResult[]): string {
  const head = ["scenario", "accepted", "rows", "duplicates", "lost", "oversold", "recover", "result"];
  const lines = results.map((r) =>
    [
      r.scenario,
      r.accepted,
      r.rows,
      r.duplicates,
      r.lost,
      r.oversold,
      `${(r.recoverMs / 1000).toFixed(1)} s`,
      r.pass ? "PASS" : "FAIL",
    ].map(String),
  );
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const row = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
  const notes = results.map((r) => `- ${r.scenario}: ${r.notes.join("; ")}`);
  return [row(head), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...lines.map(row), "", ...notes].join("\n");
}
