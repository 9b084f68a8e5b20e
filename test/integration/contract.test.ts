import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAdminRoutes } from "../../apps/admin/app.js";
import { buildOpenApiDocument, type OpenApiDocument } from "../../apps/contract/document.js";
import { solvePow } from "../../apps/domain/admission/challenge.js";
import { signPayment } from "../../apps/domain/payment-event.js";
import { createGateway } from "../../apps/gateway/app.js";
import { createContractChecker, documentedRoutes, registeredRoutes } from "../helpers/contract.js";
import { randomId, testServices } from "../helpers/env.js";
import { startTestPlatform, type TestPlatform } from "../helpers/platform.js";
import { eventually, sleep } from "../helpers/wait.js";

/** Static files are not API operations: the built assets and the API reference's scripts. */
const isStaticFile = (path: string) => path === "/ui/*" || path === "/docs/assets/:file" || path === "/admin/console/*";

let p: TestPlatform;
let doc: OpenApiDocument;
let checker: ReturnType<typeof createContractChecker>;
const problems: string[] = [];

beforeAll(async () => {
  p = await startTestPlatform({ writer: true, lifecycle: true, env: { MAX_INFLIGHT_PURCHASES: "100000", QUEUE_RATE_LIMIT_PER_SEC: "5" } });
  const res = await p.gateway.app.request("/openapi.json");
  doc = (await res.json()) as OpenApiDocument;
  checker = createContractChecker(doc);
});
afterAll(() => p.stop());

const admin = () => ({ authorization: `Bearer ${p.services.config.ADMIN_TOKEN}`, "content-type": "application/json" });

/** A request through the public app whose answer is checked against the document. */
async function call(method: string, template: string, path: string, init: { headers?: Record<string, string>; body?: unknown } = {}) {
  const res = await p.gateway.app.request(path, {
    method,
    headers: init.headers,
    body: init.body === undefined ? undefined : typeof init.body === "string" ? init.body : JSON.stringify(init.body),
  });
  problems.push(...(await checker.check(method, template, res)));
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    body: text && res.headers.get("content-type")?.includes("json") ? JSON.parse(text) : text,
  };
}

describe("the OpenAPI document", () => {
  it("is OpenAPI 3.1 and lists every route the public app, the admin routes and the API register, and nothing else", async () => {
    expect(doc.openapi).toBe("3.1.0");
    // The gateway serves some /api routes itself and forwards the rest to the API (in-process or over HTTP).
    const registered = new Set([...registeredRoutes(p.gateway.app, isStaticFile), ...registeredRoutes(p.api.app, isStaticFile)]);
    expect([...registered].sort()).toEqual(documentedRoutes(doc));
    for (const route of registeredRoutes(p.admin, isStaticFile)) expect(registered).toContain(route);
  });

  it("declares every error code a route gives with its status, and Retry-After where the answer carries it", () => {
    const purchase = (
      doc.paths!["/api/sales/{saleId}/orders"] as { post: { responses: Record<string, { description: string; headers?: object }> } }
    ).post;
    expect(Object.keys(purchase.responses).sort()).toEqual(["202", "400", "401", "403", "404", "409", "410", "413", "429", "503"]);
    expect(purchase.responses["403"].description).toContain("sale_not_started");
    expect(purchase.responses["429"].headers).toHaveProperty("Retry-After");
    expect(purchase.responses["503"].headers).toHaveProperty("Retry-After");
  });

  it("mints no tokens and signs no payments with an operator's secrets, even without NODE_ENV=production", async () => {
    // A staging or forgotten deployment keeps NODE_ENV's default (development) but sets its own
    // secrets: the development routes would mint a user token for anyone and sign "paid" callbacks.
    const services = await testServices({
      JWT_SECRET: "x".repeat(40),
      ADMIN_TOKEN: "y".repeat(20),
      PAYMENT_WEBHOOK_SECRET: "z".repeat(20),
    });
    try {
      const gateway = createGateway({ services, apiFetch: p.api.app.fetch, admin: createAdminRoutes({ services }) });
      const minted = await gateway.app.request("/api/dev/token", { method: "POST", body: JSON.stringify({ userId: "ann" }) });
      expect(minted.status).toBe(404);
      const paid = await gateway.app.request("/api/dev/pay", { method: "POST", body: JSON.stringify({ orderId: "01NOTANORDER" }) });
      expect(paid.status).toBe(404);
      const docNow = (await (await gateway.app.request("/openapi.json")).json()) as OpenApiDocument;
      expect(documentedRoutes(docNow).filter((r) => r.includes("/api/dev/"))).toEqual([]);
    } finally {
      await services.close();
    }
  });

  it("has no development routes in production, where they are not mounted either", async () => {
    const services = await testServices({
      NODE_ENV: "production",
      JWT_SECRET: "x".repeat(40),
      ADMIN_TOKEN: "y".repeat(20),
      PAYMENT_WEBHOOK_SECRET: "z".repeat(20),
    });
    try {
      const gateway = createGateway({ services, apiFetch: p.api.app.fetch, admin: createAdminRoutes({ services }) });
      const prodDoc = (await (await gateway.app.request("/openapi.json")).json()) as OpenApiDocument;
      expect(documentedRoutes(prodDoc).filter((r) => r.includes("/api/dev/"))).toEqual([]);
      const registered = new Set([...registeredRoutes(gateway.app, isStaticFile), ...registeredRoutes(p.api.app, isStaticFile)]);
      expect([...registered].sort()).toEqual(documentedRoutes(prodDoc));
      const res = await gateway.app.request("/api/dev/token", { method: "POST", body: JSON.stringify({ userId: "ann" }) });
      expect(res.status).not.toBe(200);
      expect(buildOpenApiDocument({ dev: false }).paths).not.toHaveProperty("/api/dev/pay");
    } finally {
      await services.close();
    }
  });

  it("describes every answer of the main flows: sale, purchase, order, payment, admin", async () => {
    expect((await call("GET", "/healthz", "/healthz")).status).toBe(200);
    expect((await call("GET", "/openapi.json", "/openapi.json")).status).toBe(200);
    expect((await call("GET", "/docs", "/docs")).status).toBe(200);

    // Admin: create (and refusals), list, edit, preload, stats.
    const saleId = randomId("contract-");
    // Starts in an hour; opened below by moving startsAt (which also shows an edit reaching Redis).
    const startsAt = new Date(Date.now() + 3600_000).toISOString();
    const sale = {
      id: saleId,
      title: "Contract sale",
      priceCents: 1500,
      stock: 5,
      startsAt,
      endsAt: new Date(Date.now() + 7200_000).toISOString(),
    };
    expect((await call("POST", "/admin/sales", "/admin/sales", { headers: admin(), body: sale })).status).toBe(201);
    expect((await call("POST", "/admin/sales", "/admin/sales", { headers: admin(), body: sale })).status).toBe(409);
    expect((await call("POST", "/admin/sales", "/admin/sales", { headers: admin(), body: { title: "" } })).status).toBe(400);
    expect((await call("POST", "/admin/sales", "/admin/sales", { body: sale })).status).toBe(401);
    expect(
      (await call("POST", "/admin/sales", "/admin/sales", { headers: { authorization: `Bearer ${await p.token("u")}` }, body: sale }))
        .status,
    ).toBe(403);
    const patched = await call("PATCH", "/admin/sales/:id", `/admin/sales/${saleId}`, {
      headers: admin(),
      body: { title: "Contract sale, renamed", stock: 4 },
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ title: "Contract sale, renamed", totalStock: 4 });
    expect((await call("PATCH", "/admin/sales/:id", "/admin/sales/nope-x", { headers: admin(), body: { title: "x" } })).status).toBe(404);
    expect((await call("PATCH", "/admin/sales/:id", `/admin/sales/${saleId}`, { headers: admin(), body: {} })).status).toBe(400);
    expect((await call("POST", "/admin/sales/:id/preload", `/admin/sales/${saleId}/preload`, { headers: admin() })).body).toEqual({
      id: saleId,
      remaining: 4,
    });
    expect((await call("PATCH", "/admin/sales/:id", `/admin/sales/${saleId}`, { headers: admin(), body: { stock: 9 } })).status).toBe(409);
    const list = await call("GET", "/admin/sales", "/admin/sales?limit=500", { headers: admin() });
    expect(list.body.sales.find((s: { id: string }) => s.id === saleId)).toMatchObject({
      state: "upcoming",
      remaining: 4,
      loaded: true,
      accepted: 0,
    });
    expect((await call("GET", "/admin/sales", "/admin/sales?limit=0", { headers: admin() })).status).toBe(400);

    // Public: the sale, a purchase before the start, then after it.
    const info = await call("GET", "/api/sales/:saleId", `/api/sales/${saleId}`);
    expect(info.headers.get("cache-control")).toBe("public, max-age=1");
    expect(Math.abs(Date.parse(info.body.serverTime) - Date.now())).toBeLessThan(5000);
    expect((await call("GET", "/api/sales/:saleId", "/api/sales/no-such-sale")).status).toBe(404);
    const { token } = (await call("POST", "/api/dev/token", "/api/dev/token", { body: { userId: "contract-buyer" } })).body;
    expect((await call("POST", "/api/dev/token", "/api/dev/token", { body: { userId: "" } })).status).toBe(400);
    const auth = { authorization: `Bearer ${token}`, "content-type": "application/json" };
    const early = await call("POST", "/api/sales/:saleId/orders", `/api/sales/${saleId}/orders`, { headers: auth, body: {} });
    expect(early.status).toBe(403);
    expect(early.headers.get("retry-after")).toBeTruthy();
    const open = await call("PATCH", "/admin/sales/:id", `/admin/sales/${saleId}`, {
      headers: admin(),
      body: { startsAt: new Date(Date.now() - 1000).toISOString() },
    });
    expect(open.status).toBe(200);
    // Redis has the new start at once; the gateway's in-memory copy of the sale (which answered the
    // 403 above) follows within its TTL (5 s, jittered up to 6 s).
    await sleep(6100);
    expect(
      (await call("POST", "/api/sales/:saleId/orders", `/api/sales/${saleId}/orders`, { headers: auth, body: { quantity: 2 } })).status,
    ).toBe(400);
    expect((await call("POST", "/api/sales/:saleId/orders", `/api/sales/${saleId}/orders`, { body: {} })).status).toBe(401);
    const bought = await call("POST", "/api/sales/:saleId/orders", `/api/sales/${saleId}/orders`, { headers: auth, body: {} });
    expect(bought.status).toBe(202);
    expect((await call("POST", "/api/sales/:saleId/orders", `/api/sales/${saleId}/orders`, { headers: auth, body: {} })).status).toBe(409);
    const orderId = bought.body.orderId as string;
    const order = await call("GET", "/api/orders/:orderId", `/api/orders/${orderId}`, { headers: auth });
    expect(["queued", "pending_payment"]).toContain(order.body.status);
    expect(
      (
        await call("GET", "/api/orders/:orderId", `/api/orders/${orderId}`, {
          headers: { authorization: `Bearer ${await p.token("someone-else")}` },
        })
      ).status,
    ).toBe(404);
    await eventually(
      "stored",
      async () =>
        (await call("GET", "/api/orders/:orderId", `/api/orders/${orderId}`, { headers: auth })).body.status === "pending_payment",
    );

    // Payment: a forged callback, then the simulator's signed one through the dev route.
    const raw = JSON.stringify({ eventId: "e1", orderId, providerTxnId: "t1", amountCents: 1500, status: "succeeded" });
    const bad = await call("POST", "/api/payments/callback", "/api/payments/callback", {
      headers: { "x-timestamp": "1", "x-signature": "0".repeat(64) },
      body: raw,
    });
    expect(bad.status).toBe(401);
    const ts = Math.floor(Date.now() / 1000);
    const garbled = "{";
    expect(
      (
        await call("POST", "/api/payments/callback", "/api/payments/callback", {
          headers: { "x-timestamp": String(ts), "x-signature": signPayment(p.services.config.PAYMENT_WEBHOOK_SECRET, ts, garbled) },
          body: garbled,
        })
      ).status,
    ).toBe(400);
    expect((await call("POST", "/api/dev/pay", "/api/dev/pay", { headers: auth, body: { orderId: "01NOTANORDER" } })).status).toBe(404);
    const paid = await call("POST", "/api/dev/pay", "/api/dev/pay", { headers: auth, body: { orderId } });
    expect(paid.body).toMatchObject({ orderId, callbackStatus: 200 });
    await eventually(
      "paid",
      async () => (await call("GET", "/api/orders/:orderId", `/api/orders/${orderId}`, { headers: auth })).body.status === "paid",
    );
    expect((await call("POST", "/api/dev/pay", "/api/dev/pay", { headers: auth, body: { orderId } })).status).toBe(409);

    // Admin views of it.
    const stats = await call("GET", "/admin/sales/:id/stats", `/admin/sales/${saleId}/stats`, { headers: admin() });
    expect(stats.body).toMatchObject({ accepted: 1, persisted: 1, paid: 1, remaining: 3 });
    const live = await call("GET", "/admin/sales/:id/live", `/admin/sales/${saleId}/live`, { headers: admin() });
    const answers = live.body.responses as Record<string, number>;
    // (400s and 401s are counted only while the gateway holds the sale in memory: a made-up id is never a label)
    expect(answers).toMatchObject({ "202": 1, "409": 1 });
    expect(answers["403"]).toBeGreaterThanOrEqual(1);
    const total = Object.values(answers).reduce((a, b) => a + b, 0);
    expect(live.body.latencyBuckets.at(-1)).toEqual({ le: null, count: total });
    expect((await call("GET", "/admin/sales/:id/live", "/admin/sales/nope-x/live", { headers: admin() })).status).toBe(404);
    expect((await call("POST", "/admin/sales/:id/reconcile", `/admin/sales/${saleId}/reconcile`, { headers: admin() })).body.state).toBe(
      "consistent",
    );
    expect((await call("GET", "/admin/orders/:orderId", `/admin/orders/${orderId}`, { headers: admin() })).body.payments).toHaveLength(1);
    const history = await call("GET", "/admin/orders/:orderId/history", `/admin/orders/${orderId}/history`, { headers: admin() });
    expect(history.body.status).toBe("paid");
    expect(history.body.events.map((e: { source: string }) => e.source)).toEqual(
      expect.arrayContaining(["redis", "kafka", "mysql", "payments"]),
    );
    expect((await call("GET", "/admin/orders/:orderId/history", "/admin/orders/01NOSUCHORDER/history", { headers: admin() })).status).toBe(
      404,
    );
    expect((await call("GET", "/admin/dlq", "/admin/dlq", { headers: admin() })).status).toBe(200);
    expect((await call("POST", "/admin/dlq/:id/redrive", "/admin/dlq/0:999999/redrive", { headers: admin() })).status).toBe(404);
    expect((await call("POST", "/admin/sales/:id/preload", `/admin/sales/${saleId}/preload`, { headers: admin() })).status).toBe(409);

    expect(problems).toEqual([]);
  });

  it("describes the admission flows: challenge, pass, purchase with and without it, the waiting room", async () => {
    const { token } = (await call("POST", "/api/dev/token", "/api/dev/token", { body: { userId: randomId("adm-") } })).body;
    const auth = { authorization: `Bearer ${token}`, "content-type": "application/json" };
    const passSale = await p.createSale({ stock: 3, admission: "pass", powDifficultyBits: 4 });
    const challenge = await call("GET", "/api/sales/:saleId/challenge", `/api/sales/${passSale}/challenge`, { headers: auth });
    expect(challenge.status).toBe(200);
    const wrong = await call("POST", "/api/sales/:saleId/pass", `/api/sales/${passSale}/pass`, {
      headers: auth,
      body: { challengeId: challenge.body.challengeId, nonce: "definitely-not-it-" },
    });
    expect([400, 200]).toContain(wrong.status); // one nonce in 16 solves 4 bits
    const solved = await call("GET", "/api/sales/:saleId/challenge", `/api/sales/${passSale}/challenge`, { headers: auth });
    const nonce = solvePow(solved.body.prefix, solved.body.difficultyBits);
    const pass = await call("POST", "/api/sales/:saleId/pass", `/api/sales/${passSale}/pass`, {
      headers: auth,
      body: { challengeId: solved.body.challengeId, nonce },
    });
    expect(pass.status).toBe(200);
    const without = await call("POST", "/api/sales/:saleId/orders", `/api/sales/${passSale}/orders`, { headers: auth, body: {} });
    expect(without.status).toBe(403);
    const withPass = await call("POST", "/api/sales/:saleId/orders", `/api/sales/${passSale}/orders`, {
      headers: { ...auth, "x-purchase-pass": pass.body.pass },
      body: {},
    });
    expect(withPass.status).toBe(202);
    expect((await call("GET", "/api/sales/:saleId/queue", `/api/sales/${passSale}/queue`, { headers: auth })).status).toBe(404);

    const queueSale = await p.createSale({ stock: 3, admission: "queue" });
    expect((await call("GET", "/api/sales/:saleId/queue", `/api/sales/${queueSale}/queue`, { headers: auth })).status).toBe(404);
    expect((await call("POST", "/api/sales/:saleId/queue", `/api/sales/${queueSale}/queue`, { headers: auth })).status).toBe(202);
    expect((await call("GET", "/api/sales/:saleId/queue", `/api/sales/${queueSale}/queue`, { headers: auth })).status).toBe(200);
    // Polling far faster than pollAfterSeconds: 429 rate_limited with Retry-After, as documented.
    const flood = await Promise.all(
      Array.from({ length: 12 }, () => call("GET", "/api/sales/:saleId/queue", `/api/sales/${queueSale}/queue`, { headers: auth })),
    );
    expect(flood.some((r) => r.status === 429 && r.headers.get("retry-after") !== null)).toBe(true);
    const inlet = await call("PATCH", "/admin/sales/:id", `/admin/sales/${queueSale}`, { headers: admin(), body: { inletPerSecond: 7 } });
    expect(inlet.body).toMatchObject({ inletPerSecond: 7, admission: "queue" });
    expect(
      (await call("GET", "/admin/sales/:id/stats", `/admin/sales/${queueSale}/stats`, { headers: admin() })).body.admission,
    ).toMatchObject({
      mode: "queue",
      inletPerSecond: 7,
    });
    expect(problems).toEqual([]);
  });

  it("fails an answer the document does not describe", async () => {
    const res = new Response(JSON.stringify({ orderId: 42 }), { status: 202, headers: { "content-type": "application/json" } });
    expect(await checker.check("POST", "/api/sales/:saleId/orders", res)).toEqual([expect.stringContaining("orderId")]);
    expect(await checker.check("GET", "/api/sales/:saleId", new Response("{}", { status: 418 }))).toEqual([expect.stringContaining("418")]);
    expect(await checker.check("GET", "/api/nowhere", new Response("{}"))).toEqual([expect.stringContaining("not in the document")]);
  });
});
