import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { createAdminRoutes } from "../../apps/admin/app.js";
import { orders } from "../../apps/core/db/schema/index.js";
import { signUserToken } from "../../apps/core/jwt.js";
import { createLogger } from "../../apps/core/logger.js";
import { createServices } from "../../apps/core/services.js";
import { createGateway } from "../../apps/gateway/app.js";
import { createOrderWriter } from "../../apps/order-writer/writer.js";
import { freePort } from "../../infra/processes.js";
import { randomId, testConfig } from "../helpers/env.js";
import { envOf, exited, spawnApp } from "../helpers/processes.js";
import { createSaleVia } from "../helpers/sales.js";
import { eventually, sleep } from "../helpers/wait.js";

describe("the API killed with SIGKILL while accepting orders", () => {
  it("every 202 it ever gave becomes exactly one MySQL row after restarts", async () => {
    const port = await freePort();
    const config = { ...(await testConfig()), API_URL: `http://127.0.0.1:${port}`, MAX_INFLIGHT_PURCHASES: 100_000 };
    const services = createServices(config, createLogger({ level: "silent" }));
    const gateway = createGateway({ services, admin: createAdminRoutes({ services }) });
    const writer = createOrderWriter(services, { maxRowsPerSec: 50_000 });
    await Promise.all([gateway.start(), writer.start()]);
    const log = join(tmpdir(), `seckill-api-crash-${randomId()}.log`);
    const env = envOf(config, { PORT: String(port), LOG_LEVEL: "warn", API_URL: "" });
    const startApi = async () => {
      const child = spawnApp("apps/api/main.ts", env, log);
      await eventually("the API answers", async () => (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => null))?.ok, 30_000, 100);
      return child;
    };

    const stock = 4000;
    const saleId = await createSaleVia(gateway.app, config.ADMIN_TOKEN, { stock, priceCents: 1 });

    let api = await startApi();
    const accepted = new Map<string, string>(); // user -> order id from a 202
    const buyers = Array.from({ length: 3000 }, (_, i) => `buyer-${i}`);
    const tokens = new Map(await Promise.all(buyers.map(async (u) => [u, await signUserToken(config.JWT_SECRET, u)] as const)));
    let next = 0;
    let other = 0;
    // Each buyer keeps trying (same Idempotency-Key, honouring Retry-After) until it gets a final answer.
    const pump = async () => {
      while (next < buyers.length) {
        const user = buyers[next++];
        for (let attempt = 0; attempt < 200; attempt++) {
          const res = await gateway.app.request(`/api/sales/${saleId}/orders`, {
            method: "POST",
            headers: { authorization: `Bearer ${tokens.get(user)}`, "idempotency-key": `k-${user}` },
            body: "{}",
          });
          if (res.status === 202) {
            accepted.set(user, ((await res.json()) as { orderId: string }).orderId);
            break;
          }
          if (res.status === 429) {
            // A well-behaved client waits as told.
            await sleep(Number(res.headers.get("retry-after")) * 1000);
            continue;
          }
          if (res.status !== 503) {
            other++;
            break;
          }
          await sleep(50);
        }
      }
    };
    const pumping = Promise.all(Array.from({ length: 32 }, pump));

    try {
      for (let kill = 0; kill < 3; kill++) {
        const target = accepted.size + 500;
        await eventually(`${target} accepted before kill ${kill + 1}`, () => accepted.size >= target || next >= buyers.length, 60_000, 5);
        api.kill("SIGKILL");
        await exited(api);
        await sleep(300);
        api = await startApi();
      }
      await pumping;
      expect(other).toBe(0);
      expect(accepted.size).toBe(buyers.length);

      const ids = [...accepted.values()];
      const rowsOf = () =>
        services.database.db.select({ id: orders.id, userId: orders.userId }).from(orders).where(eq(orders.saleId, saleId));
      try {
        await eventually(
          "every 202 is a row",
          async () => {
            const have = new Set((await rowsOf()).map((r) => r.id));
            return ids.every((id) => have.has(id));
          },
          60_000,
          250,
        );
      } catch (err) {
        // Say where the missing orders are, so a failure explains itself.
        const have = new Set((await rowsOf()).map((r) => r.id));
        const missing = ids.filter((id) => !have.has(id));
        const handoff = `${config.REDIS_KEY_PREFIX}{sale:${saleId}}:handoff`;
        const stillInRedis = await Promise.all(missing.slice(0, 20).map((id) => services.redis.hexists(handoff, id)));
        throw new Error(
          `${(err as Error).message}\nmissing ${missing.length} of ${ids.length}; first: ${missing.slice(0, 5).join(",")}; ` +
            `handoff records still in Redis for the first 20: ${stillInRedis.join("")}; pending handoff: ${await services.redis.hlen(handoff)}\n` +
            `API log tail:\n${readFileSync(log, "utf8").split("\n").slice(-30).join("\n")}`,
        );
      }
      await sleep(1000);
      const rows = await rowsOf();
      expect(new Set(rows.map((r) => r.id)).size).toBe(rows.length); // no duplicate
      expect(rows).toHaveLength(buyers.length); // one per buyer: idempotent retries did not buy twice
      for (const [user, id] of accepted) expect(rows.find((r) => r.id === id)?.userId).toBe(user);
      const remaining = Number(await services.redis.get(`${config.REDIS_KEY_PREFIX}{sale:${saleId}}:stock`));
      expect(remaining + rows.length).toBe(stock);
    } finally {
      api.kill("SIGKILL");
      await gateway.stop();
      await writer.stop();
      await services.close();
    }
  }, 180_000);
});
