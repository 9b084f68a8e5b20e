import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { signUserToken } from "../../apps/core/jwt.js";
import { freePort, nodeChildren } from "../../infra/processes.js";
import { ownDatabase, privateKafka, randomId, testConfig } from "../helpers/env.js";
import { envOf, exited, spawnApp } from "../helpers/processes.js";
import { createSaleVia } from "../helpers/sales.js";
import { eventually } from "../helpers/wait.js";

describe("npm start with HTTP_WORKERS=2", () => {
  it("sells from two worker processes sharing the port, replaces a worker killed mid-sale, sums /metrics over every process, and loses no order", async () => {
    const db = await ownDatabase();
    const kafka = await privateKafka();
    const port = await freePort();
    const config = await testConfig({ DATABASE_URL: db.url }, kafka);
    const env = envOf(config, { PORT: String(port), HTTP_WORKERS: "2", LOG_LEVEL: "warn", MAX_INFLIGHT_PURCHASES: "100000" });
    const base = `http://127.0.0.1:${port}`;
    const platform = spawnApp("apps/platform/main.ts", env, join(tmpdir(), `seckill-http-workers-${randomId()}.log`));
    const site = { request: (path: string, init?: RequestInit) => fetch(`${base}${path}`, init) };
    try {
      await eventually("the platform is ready", async () => (await fetch(`${base}/readyz`).catch(() => null))?.ok, 60_000, 200);
      const workers = nodeChildren(platform.pid!);
      expect(workers).toHaveLength(2);

      const stock = 300;
      const saleId = await createSaleVia(site, config.ADMIN_TOKEN, { stock });
      const buy = async (user: string) =>
        (
          await fetch(`${base}/api/sales/${saleId}/orders`, {
            method: "POST",
            headers: { authorization: `Bearer ${await signUserToken(config.JWT_SECRET, user)}` },
            body: "{}",
          })
        ).status;
      // Many connections at once, so the primary hands them to both workers.
      const first = await Promise.all(Array.from({ length: 200 }, (_, i) => buy(`w-${i}`)));
      expect(first.filter((s) => s === 202)).toHaveLength(200);
      const metrics = await (await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${config.ADMIN_TOKEN}` } })).text();
      expect(metrics).toMatch(/^seckill_purchases_total\{outcome="reserved"\} 200$/m);

      process.kill(workers[0], "SIGKILL");
      await eventually("a new worker replaced the killed one", () => {
        const now = nodeChildren(platform.pid!);
        return now.length === 2 && !now.includes(workers[0]) ? now : null;
      });
      // The rest of the crowd: 200 more buyers for the 100 units left; nothing oversold.
      const rest = await Promise.all(Array.from({ length: 200 }, (_, i) => buy(`v-${i}`)));
      expect(rest.filter((s) => s === 202)).toHaveLength(100);
      expect(rest.filter((s) => s === 410)).toHaveLength(100);

      const headers = { authorization: `Bearer ${config.ADMIN_TOKEN}` };
      const stats = await eventually("every accepted order is in MySQL", async () => {
        const s = (await (await fetch(`${base}/admin/sales/${saleId}/stats`, { headers })).json()) as Record<string, number>;
        return s.persisted === stock ? s : null;
      });
      expect(stats).toMatchObject({ accepted: stock, persisted: stock, remaining: 0 });

      platform.kill("SIGTERM");
      await exited(platform);
      expect(platform.exitCode).toBe(0);
      for (const w of nodeChildren(platform.pid!)) expect(w).toBeUndefined();
    } finally {
      platform.kill("SIGKILL");
      await kafka.stop();
      await db.drop();
    }
  }, 120_000);
});
