import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Config } from "../../apps/core/config.js";
import { signUserToken } from "../../apps/core/jwt.js";
import { freePort } from "../../infra/processes.js";
import { ownDatabase, privateKafka, randomId, testConfig } from "../helpers/env.js";
import { envOf, exited, spawnApp } from "../helpers/processes.js";
import { createSaleVia } from "../helpers/sales.js";
import { eventually } from "../helpers/wait.js";

/**
 * The platform as npm start runs it (own process group, own database, private Kafka unless
 * `env` unsets it), its log file, and clean-up whatever the test did.
 */
async function withPlatform(
  env: Record<string, string>,
  test: (p: { platform: ChildProcess; config: Config; base: string; log(): string }) => Promise<void>,
): Promise<void> {
  const db = await ownDatabase();
  const kafka = await privateKafka();
  const port = await freePort();
  const config = await testConfig({ DATABASE_URL: db.url }, kafka);
  const logFile = join(tmpdir(), `seckill-shutdown-${randomId()}.log`);
  const platform = spawnApp("apps/platform/main.ts", envOf(config, { PORT: String(port), LOG_LEVEL: "info", ...env }), logFile);
  try {
    await test({ platform, config, base: `http://127.0.0.1:${port}`, log: () => readFileSync(logFile, "utf8") });
  } finally {
    platform.kill("SIGKILL");
    await kafka.stop();
    await db.drop();
  }
}

describe("npm start and Ctrl-C", () => {
  it("Ctrl-C (SIGINT to the whole process group, then tsx's relay of it) drains, stops its own Kafka last, and exits 0", async () => {
    // KAFKA_BROKERS unset: the platform starts a Kafka mock of its own, as npm start does.
    await withPlatform({ KAFKA_BROKERS: "" }, async ({ platform, config, base, log }) => {
      // "ready" is logged once start-up is over (writer, lifecycle, demo sale), as npm start prints Ready.
      await eventually("the platform is ready", () => log().includes('"msg":"ready"'), 60_000, 200);
      const saleId = await createSaleVia({ request: (path, init) => fetch(`${base}${path}`, init) }, config.ADMIN_TOKEN, { stock: 5 });
      const res = await fetch(`${base}/api/sales/${saleId}/orders`, {
        method: "POST",
        headers: { authorization: `Bearer ${await signUserToken(config.JWT_SECRET, "ctrl-c")}` },
        body: "{}",
      });
      expect(res.status).toBe(202);

      // The platform leads its process group (spawned detached), as npm start's node does under a terminal.
      process.kill(-platform.pid!, "SIGINT");
      await new Promise((r) => setTimeout(r, 50));
      platform.kill("SIGINT");
      await exited(platform);
      const drain = log().slice(log().indexOf("shutting down"));
      expect(drain).toContain("stopped cleanly");
      expect(drain).not.toContain("second signal");
      // Kafka stayed up until the platform was done with it.
      expect(drain).not.toMatch(/ECONNREFUSED|"level":"error"/);
      expect(platform.exitCode).toBe(0);
    });
  }, 120_000);

  it("Ctrl-C during start-up (the edge already answering, the writer still joining) lets start-up finish, then drains and exits 0", async () => {
    await withPlatform({}, async ({ platform, base, log }) => {
      // The edge answers: what follows is the writer's and the lifecycle's group joins, then the demo sale.
      await eventually("the edge answers", async () => (await fetch(`${base}/readyz`).catch(() => null))?.ok, 60_000, 10);
      platform.kill("SIGINT");
      await exited(platform);
      const stopping = log().indexOf("shutting down");
      expect(stopping).toBeGreaterThan(-1);
      // The signal did land during start-up, which then finished before the drain.
      expect(stopping).toBeLessThan(log().indexOf('"msg":"ready"'));
      expect(log().slice(stopping)).toContain("stopped cleanly");
      expect(platform.exitCode).toBe(0);
    });
  }, 120_000);
});
