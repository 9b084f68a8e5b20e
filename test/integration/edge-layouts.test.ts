import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAdminRoutes } from "../../apps/admin/app.js";
import type { Config } from "../../apps/core/config.js";
import { signUserToken } from "../../apps/core/jwt.js";
import { createLogger } from "../../apps/core/logger.js";
import { createServices, type Services } from "../../apps/core/services.js";
import { signPayment } from "../../apps/domain/payment-event.js";
import type { KafkaMock } from "../../infra/kafka-mock/launch.js";
import { freePort, stopChild } from "../../infra/processes.js";
import { ownDatabase, privateKafka, randomId, testConfig } from "../helpers/env.js";
import { envOf, spawnApp } from "../helpers/processes.js";
import { errorCode, rawExchange } from "../helpers/raw-http.js";
import { createSaleVia } from "../helpers/sales.js";
import { eventually, sleep } from "../helpers/wait.js";

/**
 * The hardened edge in every process layout, as deployed: `npm start` in one process, with
 * HTTP_WORKERS=2, and split (gateway -> API over HTTP), each spawned from its main.ts with
 * operator-set secrets. The same requests as edge.test.ts, against the real processes.
 */
const SHOP = "https://shop.example";
const SECRETS = {
  JWT_SECRET: `operator-jwt-secret-${randomId()}-${randomId()}`,
  ADMIN_TOKEN: `operator-admin-${randomId()}`,
  PAYMENT_WEBHOOK_SECRET: `operator-webhook-${randomId()}`,
};
const MB50 = 50 * 1024 * 1024;

interface Running {
  port: number;
  opsPort: number;
  /** Every OPS_PORT of the layout (split: the gateway's and the API's); metrics are summed over them. */
  opsPorts: number[];
  logFile: string;
  /** Processes that check callback signatures, each throttling its own log line. */
  httpProcesses: number;
  createSale(): Promise<string>;
  stop(): Promise<void>;
}

const edgeEnv = (port: number, opsPort: number) => ({
  ...SECRETS,
  PORT: String(port),
  OPS_PORT: String(opsPort),
  LOG_LEVEL: "info",
  CORS_ORIGINS: SHOP,
  HTTP_HEADERS_TIMEOUT_MS: "1000",
  HTTP_REQUEST_TIMEOUT_MS: "1500",
  MAX_INFLIGHT_PURCHASES: "3",
  RATE_LIMIT_BURST: "100",
});

async function ready(port: number, child: ChildProcess, logFile: string) {
  await eventually(
    "the process is ready",
    async () => {
      if (child.exitCode !== null) throw new Error(`exited ${child.exitCode}: ${readFileSync(logFile, "utf8").slice(-2000)}`);
      return (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => null))?.ok;
    },
    90_000,
    200,
  );
}

/** npm start (apps/platform/main.ts), in one process or with HTTP workers. */
async function platform(extra: Record<string, string>): Promise<Running> {
  const db = await ownDatabase();
  const kafka = await privateKafka();
  const [port, opsPort] = [await freePort(), await freePort()];
  const config = await testConfig({ DATABASE_URL: db.url, ...SECRETS }, kafka);
  const logFile = join(tmpdir(), `seckill-edge-${randomId()}.log`);
  const child = spawnApp("apps/platform/main.ts", envOf(config, { ...edgeEnv(port, opsPort), ...extra }), logFile);
  try {
    await ready(port, child, logFile);
    // The HTTP workers answer before the primary has seeded the demo sale and printed its banner.
    await eventually("the banner is printed", () => readFileSync(logFile, "utf8").includes("Ready. Buy the demo item"), 60_000, 200);
  } catch (err) {
    child.kill("SIGKILL");
    await kafka.stop();
    await db.drop();
    throw err;
  }
  const site = { request: (path: string, init?: RequestInit) => fetch(`http://127.0.0.1:${port}${path}`, init) };
  return {
    port,
    opsPort,
    opsPorts: [opsPort],
    logFile,
    httpProcesses: extra.HTTP_WORKERS ? Number(extra.HTTP_WORKERS) : 1,
    createSale: () => createSaleVia(site, SECRETS.ADMIN_TOKEN, { stock: 100 }),
    async stop() {
      await stopChild(child);
      await kafka.stop();
      await db.drop();
    },
  };
}

/** The gateway and the API as separate processes; the test creates sales with admin routes of its own on the same stack. */
async function split(): Promise<Running> {
  const kafka: KafkaMock = await privateKafka();
  const [port, opsPort, apiPort, apiOps] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const config: Config = await testConfig({ ...SECRETS }, kafka);
  const logFile = join(tmpdir(), `seckill-edge-split-${randomId()}.log`);
  const api = spawnApp("apps/api/main.ts", envOf(config, { ...edgeEnv(apiPort, apiOps) }), logFile);
  const gateway = spawnApp(
    "apps/gateway/main.ts",
    envOf(config, { ...edgeEnv(port, opsPort), API_URL: `http://127.0.0.1:${apiPort}` }),
    logFile,
  );
  const services: Services = createServices(config, createLogger({ level: "silent" }));
  const admin = createAdminRoutes({ services });
  const stop = async () => {
    await Promise.all([stopChild(gateway), stopChild(api)]);
    await services.close();
    await kafka.stop();
  };
  try {
    await ready(apiPort, api, logFile);
    await ready(port, gateway, logFile);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    port,
    opsPort,
    opsPorts: [opsPort, apiOps],
    logFile,
    httpProcesses: 1, // the API checks the signature; the gateway passes the callback on
    createSale: () => createSaleVia(admin, SECRETS.ADMIN_TOKEN, { stock: 100 }),
    stop,
  };
}

const layouts: [string, () => Promise<Running>][] = [
  ["one process (NODE_ENV=production)", () => platform({ NODE_ENV: "production" })],
  ["HTTP_WORKERS=2", () => platform({ HTTP_WORKERS: "2" })],
  ["split: gateway -> API over HTTP", split],
];

describe.each(layouts)("the public edge, %s", (name, start) => {
  let r: Running;
  let saleId: string;
  beforeAll(async () => {
    r = await start();
    saleId = await r.createSale();
  }, 150_000);
  afterAll(async () => {
    await r?.stop();
  }, 60_000);

  const url = (path: string) => `http://127.0.0.1:${r.port}${path}`;
  const token = (user: string) => signUserToken(SECRETS.JWT_SECRET, user);
  const buyHead = async (user: string, extra: string) =>
    `POST /api/sales/${saleId}/orders HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${await token(user)}\r\n${extra}`;
  const logLines = () => readFileSync(r.logFile, "utf8").split("\n");

  it("refuses bodies over the route's limit with 413 payload_too_large, by Content-Length and while streaming, answered before the 50 MB are sent", async () => {
    const declared = await rawExchange(r.port, await buyHead("big-1", "Content-Length: 4097\r\n"));
    expect([declared.status, errorCode(declared)]).toEqual([413, "payload_too_large"]);
    const purchase = await rawExchange(r.port, await buyHead("big-2", "Transfer-Encoding: chunked\r\n"), {
      chunk: Buffer.alloc(16 * 1024, 32),
      count: MB50 / (16 * 1024),
      chunked: true,
    });
    expect([purchase.status, errorCode(purchase), purchase.bytesSent < MB50]).toEqual([413, "payload_too_large", true]);
    const callback = await rawExchange(r.port, "POST /api/payments/callback HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n", {
      chunk: Buffer.alloc(64 * 1024, 120),
      count: MB50 / (64 * 1024),
      chunked: true,
    });
    expect([callback.status, errorCode(callback), callback.bytesSent < MB50]).toEqual([413, "payload_too_large", true]);
    const ok = await fetch(url(`/api/sales/${saleId}/orders`), {
      method: "POST",
      headers: { authorization: `Bearer ${await token("fits")}` },
      body: "{}",
    });
    expect(ok.status).toBe(202);
  });

  it("cuts slow bodies off with 408 and the uniform body, and they hold no purchase slot (MAX_INFLIGHT_PURCHASES=3)", async () => {
    const ids = [1, 2, 3].map((i) => `slow-${randomId()}-${i}`);
    const slow = Promise.all(
      ids.map(async (requestId, i) =>
        rawExchange(r.port, await buyHead(`slow-${i}`, `Content-Length: 100\r\nX-Request-Id: ${requestId}\r\n`), {
          chunk: Buffer.from(" "),
          count: 100,
          intervalMs: 100,
        }),
      ),
    );
    await sleep(300);
    const other = await fetch(url(`/api/sales/${saleId}/orders`), {
      method: "POST",
      headers: { authorization: `Bearer ${await token("not-slow")}` },
      body: "{}",
    });
    expect(other.status).toBe(202);
    for (const a of await slow) expect([a.status, errorCode(a), a.bytesSent < 100]).toEqual([408, "request_timeout", true]);
    // Logged once each, as what happened: cut off by the timeout, not a client that left.
    for (const requestId of ids) {
      const line = await eventually("the cut-off is logged", () => logLines().find((l) => l.includes(requestId)));
      expect(JSON.parse(line)).toMatchObject({ level: "info", code: "request_timeout", requestId });
      expect(logLines().filter((l) => l.includes(requestId))).toHaveLength(1);
    }
  });

  it("answers Node's own refusals with the uniform body: 431, and 400 for the request target *", async () => {
    const big = await rawExchange(r.port, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n`);
    expect([big.status, errorCode(big)]).toEqual([431, "headers_too_large"]);
    const star = await rawExchange(r.port, "GET * HTTP/1.1\r\nHost: x\r\n");
    expect([star.status, errorCode(star)]).toEqual([400, "invalid_request"]);
  });

  it("keeps /metrics off the public port without the admin token, serves it on OPS_PORT; /healthz and /readyz stay public", async () => {
    expect((await fetch(url("/metrics"))).status).toBe(401);
    expect((await fetch(url("/metrics"), { headers: { authorization: `Bearer ${SECRETS.ADMIN_TOKEN}` } })).status).toBe(200);
    const ops = await fetch(`http://127.0.0.1:${r.opsPort}/metrics`);
    expect(ops.status).toBe(200);
    expect(await ops.text()).toMatch(/^seckill_gateway_rejections_total\{reason="payload_too_large"\} [1-9]/m);
    expect((await fetch(url("/healthz"))).status).toBe(200);
    expect((await fetch(url("/readyz"))).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${r.opsPort}/readyz`)).status).toBe(200);
  });

  it("answers a CORS preflight for the purchase route from an allowed origin, never for the callback", async () => {
    const preflight = (path: string) =>
      fetch(url(path), {
        method: "OPTIONS",
        headers: { origin: SHOP, "access-control-request-method": "POST", "access-control-request-headers": "authorization" },
      });
    const res = await preflight(`/api/sales/${saleId}/orders`);
    expect([res.status, res.headers.get("access-control-allow-origin"), res.headers.get("access-control-max-age")]).toEqual([
      204,
      SHOP,
      "600",
    ]);
    expect((await preflight("/api/payments/callback")).headers.get("access-control-allow-origin")).toBeNull();
  });

  it("logs a client that aborts mid-body once, as client_aborted at info, and no error", async () => {
    const requestId = `abort-${randomId()}`;
    await rawExchange(r.port, await buyHead("leaves", `Content-Length: 1000\r\nX-Request-Id: ${requestId}\r\n`), { initial: "{" }, 300);
    const lines = await eventually("the abort is logged", () => {
      const found = logLines().filter((l) => l.includes(requestId));
      return found.length > 0 ? found : null;
    });
    await sleep(300);
    const all = logLines().filter((l) => l.includes(requestId));
    expect(all).toHaveLength(1);
    expect(JSON.parse(lines[0])).toMatchObject({ level: "info", code: "client_aborted", requestId });
    expect(logLines().filter((l) => l.includes('"level":"error"'))).toEqual([]);
  });

  it("counts every bad-signature callback in a metric and logs at most one line for a burst", async () => {
    const body = JSON.stringify({ eventId: "e", orderId: "o", providerTxnId: "t", amountCents: 1, status: "succeeded" });
    const ts = Math.floor(Date.now() / 1000);
    const headers = { "x-timestamp": String(ts), "x-signature": signPayment("forged-forged-forged", ts, body) };
    const refusedOn = async (port: number) =>
      Number(
        /^seckill_payment_callbacks_refused_total\{reason="bad_signature"\} (\d+)/m.exec(
          await (await fetch(`http://127.0.0.1:${port}/metrics`)).text(),
        )?.[1] ?? 0,
      );
    const refused = async () => (await Promise.all(r.opsPorts.map(refusedOn))).reduce((a, b) => a + b, 0);
    const before = await refused();
    const statuses = await Promise.all(
      Array.from({ length: 40 }, () => fetch(url("/api/payments/callback"), { method: "POST", headers, body }).then((x) => x.status)),
    );
    expect(new Set(statuses)).toEqual(new Set([401]));
    expect(await refused()).toBe(before + 40);
    const warned = logLines().filter((l) => l.includes("payment callback refused"));
    expect(warned.length).toBeGreaterThanOrEqual(1);
    expect(warned.length).toBeLessThanOrEqual(r.httpProcesses);
  });

  it("prints no operator secret and no signed user token", () => {
    const log = readFileSync(r.logFile, "utf8");
    for (const secret of Object.values(SECRETS)) expect(log).not.toContain(secret);
    expect(log).not.toMatch(/eyJ[\w-]+\.eyJ/);
    if (!name.startsWith("split")) expect(log).toContain("TOKEN=<a user token signed with your JWT_SECRET>");
  });
});
