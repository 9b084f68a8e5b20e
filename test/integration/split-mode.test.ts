import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { eq } from "drizzle-orm";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../apps/core/config.js";
import { createDatabase } from "../../apps/core/db/client.js";
import { orders } from "../../apps/core/db/schema/index.js";
import { signUserToken } from "../../apps/core/jwt.js";
import { freePort, spawnEntry, spawnManaged, stopChild } from "../../infra/processes.js";
import { ownDatabase, randomId, stackInfo } from "../helpers/env.js";
import { testRedis } from "../helpers/redis.js";
import { createSaleVia } from "../helpers/sales.js";
import { eventually } from "../helpers/wait.js";

/**
 * Components run as separate processes share one Kafka, or orders are lost quietly: a gateway
 * and API on a private Kafka mock accept orders no writer ever reads. A standalone component
 * therefore never starts a broker of its own; `npm run stack` starts the shared services once.
 */
const children: ChildProcess[] = [];
afterAll(async () => {
  for (const c of children.reverse()) await stopChild(c, 5000);
});

/** The environment of this process without the service variables (what a fresh terminal has). */
function bareEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  for (const k of ["REDIS_URL", "DATABASE_URL", "KAFKA_BROKERS", "KAFKA_TOPIC_PREFIX", "API_URL"]) delete env[k];
  return { ...env, NODE_ENV: "test", LOG_LEVEL: "warn", ...extra };
}

const COMPONENTS = ["api", "gateway", "order-writer", "lifecycle", "admin"] as const;

describe("components as separate processes", () => {
  it("a component started on its own without KAFKA_BROKERS exits non-zero and names the command to run", async () => {
    const results = await Promise.all(
      COMPONENTS.map(async (app) => {
        const logFile = join(tmpdir(), `seckill-split-${app}-${randomId()}.log`);
        const child = spawnEntry(`apps/${app}/main.ts`, {
          env: bareEnv({
            REDIS_URL: stackInfo().redisTarget,
            DATABASE_URL: stackInfo().databaseUrl,
            PORT: String(await freePort()),
            API_URL: "http://127.0.0.1:9",
          }),
          logFile,
        });
        children.push(child);
        const code = await new Promise<number | string>((resolve) => {
          const timer = setTimeout(() => resolve("still running after 30 s"), 30_000);
          child.once("exit", (c, signal) => {
            clearTimeout(timer);
            resolve(c ?? String(signal));
          });
        });
        await new Promise((r) => setTimeout(r, 100)); // the log stream flushes
        return { app, code, output: readFileSync(logFile, "utf8") };
      }),
    );
    for (const r of results) {
      expect({ app: r.app, code: r.code }).toEqual({ app: r.app, code: 1 });
      expect(r.output).toContain("KAFKA_BROKERS is not set");
      expect(r.output).toContain("npm run stack");
    }
  }, 90_000);

  it("components started against npm run stack's printed environment sell an order and persist it", async () => {
    const db = await ownDatabase();
    const { redis, prefix, cleanup } = testRedis();
    const envFile = join(tmpdir(), `seckill-stack-${randomId()}.env`);
    try {
      // The shared services: this test's Redis and database given, the Kafka mock started by the command.
      const stack = spawnManaged(process.execPath, ["--import", "tsx", "infra/stack-main.ts", "--write-env", envFile], {
        env: bareEnv({ REDIS_URL: stackInfo().redisTarget, DATABASE_URL: db.url }),
        stdio: ["ignore", "pipe", "pipe"],
      });
      children.push(stack);
      const printed: Record<string, string> = {};
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("npm run stack printed no KAFKA_BROKERS within 60 s")), 60_000);
        createInterface({ input: stack.stdout! }).on("line", (line) => {
          const m = /^export (\w+)='(.*)'$/.exec(line);
          if (m) printed[m[1]] = m[2];
          if (m?.[1] === "KAFKA_BROKERS") {
            clearTimeout(timer);
            resolve();
          }
        });
        stack.once("exit", (code) => reject(new Error(`npm run stack exited with ${code}`)));
      });
      stack.stdout?.resume();
      expect(printed.DATABASE_URL).toBe(db.url);
      expect(readFileSync(envFile, "utf8")).toContain(`export KAFKA_BROKERS='${printed.KAFKA_BROKERS}'`);

      // Each component only gets what the command printed, plus its own port and this test's ids.
      const ports = { api: await freePort(), gateway: await freePort(), writer: await freePort(), admin: await freePort() };
      const common = {
        ...printed,
        REDIS_KEY_PREFIX: prefix,
        ORDER_WRITER_GROUP_ID: randomId("split-writer-"),
        KAFKA_SESSION_TIMEOUT_MS: "3000",
        KAFKA_FETCH_MAX_WAIT_MS: "100",
      };
      const start = (app: string, port: number, extra: Record<string, string> = {}) => {
        const child = spawnEntry(`apps/${app}/main.ts`, {
          env: bareEnv({ ...common, PORT: String(port), ...extra }),
          logFile: join(tmpdir(), `seckill-split-run-${app}-${randomId()}.log`),
        });
        children.push(child);
      };
      start("api", ports.api);
      start("gateway", ports.gateway, { API_URL: `http://127.0.0.1:${ports.api}` });
      start("order-writer", ports.writer);
      start("admin", ports.admin);
      for (const port of Object.values(ports)) {
        await eventually(
          `the component on ${port} is ready`,
          async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => null))?.ok,
          60_000,
          200,
        );
      }

      const config = loadConfig({ NODE_ENV: "test" });
      const admin = { request: (path: string, init?: RequestInit) => fetch(`http://127.0.0.1:${ports.admin}${path}`, init) };
      const saleId = await createSaleVia(admin, config.ADMIN_TOKEN, { stock: 2 });
      const token = await signUserToken(config.JWT_SECRET, "split-buyer");
      const res = await fetch(`http://127.0.0.1:${ports.gateway}/api/sales/${saleId}/orders`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: "{}",
      });
      expect(res.status).toBe(202);
      const { orderId } = (await res.json()) as { orderId: string };

      const database = createDatabase(db.url, 1);
      try {
        const row = await eventually(
          "the order is a MySQL row",
          async () => (await database.db.select().from(orders).where(eq(orders.id, orderId)))[0],
          30_000,
          200,
        );
        expect({ saleId: row.saleId, userId: row.userId, status: row.status }).toEqual({
          saleId,
          userId: "split-buyer",
          status: "pending_payment",
        });
      } finally {
        await database.close();
      }
    } finally {
      for (const c of children.splice(0).reverse()) await stopChild(c, 5000);
      await cleanup();
      void redis;
      await db.drop();
    }
  }, 180_000);
});
