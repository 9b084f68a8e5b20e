import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listen } from "../../apps/core/serve.js";
import { signPayment } from "../../apps/domain/payment-event.js";
import { startTestPlatform, type TestPlatform } from "../helpers/platform.js";
import { errorCode, rawExchange } from "../helpers/raw-http.js";
import { watchRedis } from "../helpers/redis.js";
import { sleep } from "../helpers/wait.js";

/**
 * The public edge on a real listener (the gateway with the API in-process, admin under /admin):
 * body limits, slow clients, Node's own refusals, /metrics, CORS. edge-layouts.test.ts runs the
 * same kinds of request against every process layout.
 */
const SHOP = "https://shop.example";
let p: TestPlatform;
let http: Awaited<ReturnType<typeof listen>>;
let port: number;
let openSale: string;
let upcomingSale: string;
let adminToken: string;

beforeAll(async () => {
  // Background loops off (relay, sold-out refresh, the waiting rooms' admission tick) so every Redis command in a window below is a request's.
  p = await startTestPlatform({
    handoff: { relayIntervalMs: 600_000 },
    soldOutRefreshMs: 600_000,
    admitTickMs: 600_000,
    env: { MAX_INFLIGHT_PURCHASES: "3", CORS_ORIGINS: `${SHOP},https://other.example`, RATE_LIMIT_BURST: "100" },
  });
  http = await listen(p.gateway.app, "127.0.0.1", 0, { headersTimeoutMs: 1000, requestTimeoutMs: 1500 });
  port = http.port;
  adminToken = p.services.config.ADMIN_TOKEN;
  openSale = await p.createSale({ stock: 50 });
  upcomingSale = await p.createSale({ startsAt: new Date(Date.now() + 3600_000), endsAt: new Date(Date.now() + 7200_000) });
});
afterAll(async () => {
  await http?.close();
  await p?.stop();
});

const url = (path: string) => `http://127.0.0.1:${port}${path}`;
const buyHead = async (saleId: string, user: string, extra = "") =>
  `POST /api/sales/${saleId}/orders HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${await p.token(user)}\r\n${extra}`;
const MB50 = 50 * 1024 * 1024;

describe("body limits on a real listener", () => {
  it("a purchase declaring more than 4 KiB gets 413 payload_too_large before a byte of its body is sent", async () => {
    const a = await rawExchange(port, await buyHead(openSale, "big-1", "Content-Length: 4097\r\n"));
    expect(a.status).toBe(413);
    expect(errorCode(a)).toBe("payload_too_large");
    expect(a.closed).toBe(true);
  });

  it("a chunked purchase body is refused with 413 once it passes 4 KiB, answered before the 50 MB are sent", async () => {
    const a = await rawExchange(port, await buyHead(openSale, "big-2", "Transfer-Encoding: chunked\r\n"), {
      chunk: Buffer.alloc(1024, 32),
      count: MB50 / 1024,
      chunked: true,
    });
    expect(a.status).toBe(413);
    expect(errorCode(a)).toBe("payload_too_large");
    expect(a.closed).toBe(true);
    expect(a.bytesSent).toBeLessThan(MB50);
  });

  it("a purchase body of 4 KiB is read and bought; a callback of 60 KiB is read (and refused for its signature only)", async () => {
    const body = `{}${" ".repeat(4096 - 2)}`;
    const res = await fetch(url(`/api/sales/${openSale}/orders`), {
      method: "POST",
      headers: { authorization: `Bearer ${await p.token("full-4k")}` },
      body,
    });
    expect(res.status).toBe(202);
    const cb = await fetch(url("/api/payments/callback"), { method: "POST", body: " ".repeat(60 * 1024) });
    expect(cb.status).toBe(401);
  });

  it("the payment callback takes 64 KiB: more is 413 by Content-Length or as it streams, unsigned and unread", async () => {
    const head = "POST /api/payments/callback HTTP/1.1\r\nHost: x\r\nX-Timestamp: 1\r\nX-Signature: 00\r\n";
    const declared = await rawExchange(port, `${head}Content-Length: ${64 * 1024 + 1}\r\n`);
    expect([declared.status, errorCode(declared)]).toEqual([413, "payload_too_large"]);
    const streamed = await rawExchange(port, `${head}Transfer-Encoding: chunked\r\n`, {
      chunk: Buffer.alloc(16 * 1024, 120),
      count: MB50 / (16 * 1024),
      chunked: true,
    });
    expect([streamed.status, errorCode(streamed)]).toEqual([413, "payload_too_large"]);
    expect(streamed.bytesSent).toBeLessThan(MB50);
  });

  it("admin calls take 64 KiB (413 beyond), and a caller without the admin token never has its body read", async () => {
    const head = (auth: string) => `POST /admin/sales HTTP/1.1\r\nHost: x\r\n${auth}Content-Length: ${64 * 1024 + 1}\r\n`;
    const withToken = await rawExchange(port, head(`Authorization: Bearer ${adminToken}\r\n`));
    expect([withToken.status, errorCode(withToken)]).toEqual([413, "payload_too_large"]);
    const without = await rawExchange(port, head(""));
    expect([without.status, errorCode(without)]).toEqual([401, "unauthorized"]);
  });
});

describe("admission calls", () => {
  it("a queue or pass call over 4 KiB gets 413, at the gateway and at an API listener of its own (split layout)", async () => {
    for (const call of ["queue", "pass"]) {
      const head = `POST /api/sales/${openSale}/${call} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${await p.token("q")}\r\nContent-Length: 4097\r\n`;
      const a = await rawExchange(port, head);
      expect([call, a.status, errorCode(a)]).toEqual([call, 413, "payload_too_large"]);
    }
    const api = await listen(p.api.app, "127.0.0.1", 0);
    try {
      const chunked = await rawExchange(
        api.port,
        `POST /api/sales/${openSale}/pass HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n`,
        {
          chunk: Buffer.alloc(1024, 32),
          count: 1024,
          chunked: true,
        },
      );
      expect([chunked.status, errorCode(chunked)]).toEqual([413, "payload_too_large"]);
    } finally {
      await api.close();
    }
  });
});

describe("malformed purchases", () => {
  it("a malformed body gets 400 invalid_request whatever the sale's state (before the start too)", async () => {
    const token = await p.token("malformed-1");
    const buy = (saleId: string, body: string, headers: Record<string, string> = {}) =>
      fetch(url(`/api/sales/${saleId}/orders`), { method: "POST", headers: { authorization: `Bearer ${token}`, ...headers }, body });
    for (const saleId of [upcomingSale, openSale]) {
      for (const body of ["{bad", '{"quantity":2}', "[]", '{"extra":true}']) {
        const res = await buy(saleId, body);
        expect([saleId, body, res.status, ((await res.json()) as { error: { code: string } }).error.code]).toEqual([
          saleId,
          body,
          400,
          "invalid_request",
        ]);
      }
      expect((await buy(saleId, "{}", { "idempotency-key": "has space" })).status).toBe(400);
    }
    expect((await buy(upcomingSale, "{}")).status).toBe(403);
  });
});

describe("slow clients", () => {
  it("three slow bodies hold no purchase slot (MAX_INFLIGHT_PURCHASES=3): another buyer gets 202, and each slow one is cut off with 408 and the uniform body", async () => {
    const slow = await Promise.all(
      [1, 2, 3].map(async (i) =>
        rawExchange(port, await buyHead(openSale, `slow-${i}`, "Content-Length: 100\r\n"), {
          chunk: Buffer.from(" "),
          count: 100,
          intervalMs: 100,
        }),
      ),
    ).then((all) => all);
    // The three slow ones were cut off while still sending: their answer is the 408.
    for (const a of slow) {
      expect(a.status).toBe(408);
      expect(errorCode(a)).toBe("request_timeout");
      expect(a.bytesSent).toBeLessThan(100);
    }
  });

  it("while three bodies dribble in, every other buyer is still served", async () => {
    const pending = Promise.all(
      [4, 5, 6].map(async (i) =>
        rawExchange(port, await buyHead(openSale, `slow-${i}`, "Content-Length: 100\r\n"), {
          chunk: Buffer.from(" "),
          count: 100,
          intervalMs: 100,
        }),
      ),
    );
    await sleep(300); // the three are connected and sending
    const res = await fetch(url(`/api/sales/${openSale}/orders`), {
      method: "POST",
      headers: { authorization: `Bearer ${await p.token("quick-buyer")}` },
      body: "{}",
    });
    expect(res.status).toBe(202);
    for (const a of await pending) expect(a.status).toBe(408);
  });

  it("headers that never finish are cut off after the headers timeout with 408", async () => {
    const a = await rawExchange(port, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: 1\r\n", {
      openHead: true,
      chunk: Buffer.from("X-More: 1\r\n"),
      count: 50,
      intervalMs: 100,
    });
    expect(a.status).toBe(408);
    expect(errorCode(a)).toBe("request_timeout");
  });
});

describe("what Node refuses itself carries the uniform body", () => {
  it("431 for headers too large, 400 for Content-Length with Transfer-Encoding, 400 for the request target *", async () => {
    const big = await rawExchange(port, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n`);
    expect([big.status, errorCode(big)]).toEqual([431, "headers_too_large"]);
    const both = await rawExchange(
      port,
      "POST /api/payments/callback HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n",
      { initial: "0\r\n\r\n" },
    );
    expect([both.status, errorCode(both)]).toEqual([400, "invalid_request"]);
    const star = await rawExchange(port, "GET * HTTP/1.1\r\nHost: x\r\n");
    expect([star.status, errorCode(star)]).toEqual([400, "invalid_request"]);
    expect(star.headers["content-type"]).toBe("application/json");
  });
});

describe("operations endpoints", () => {
  it("/metrics on the public port needs the admin token (any scheme case); /healthz and /readyz are public", async () => {
    const anon = await fetch(url("/metrics"));
    expect(anon.status).toBe(401);
    expect(await anon.text()).not.toMatch(/seckill_/);
    const userToken = await p.token("curious");
    expect((await fetch(url("/metrics"), { headers: { authorization: `Bearer ${userToken}` } })).status).toBe(401);
    const admin = await fetch(url("/metrics"), { headers: { authorization: `bearer ${adminToken}` } });
    expect(admin.status).toBe(200);
    expect(await admin.text()).toMatch(/^seckill_purchases_total/m);
    expect((await fetch(url("/healthz"))).status).toBe(200);
    expect((await fetch(url("/readyz"))).status).toBe(200);
  });

  it("bad-signature callbacks are all counted in seckill_payment_callbacks_refused_total", async () => {
    const before = (await p.services.metrics.callbacksRefused.get()).values.find((v) => v.labels.reason === "bad_signature")?.value ?? 0;
    const body = JSON.stringify({ eventId: "e1", orderId: "o1", providerTxnId: "t1", amountCents: 1, status: "succeeded" });
    const ts = Math.floor(Date.now() / 1000);
    for (let i = 0; i < 20; i++) {
      const res = await fetch(url("/api/payments/callback"), {
        method: "POST",
        headers: { "x-timestamp": String(ts), "x-signature": signPayment("not-the-secret-at-all", ts, body) },
        body,
      });
      expect(res.status).toBe(401);
    }
    const after = (await p.services.metrics.callbacksRefused.get()).values.find((v) => v.labels.reason === "bad_signature")?.value;
    expect(after).toBe(before + 20);
  });
});

describe("CORS for storefronts on other origins", () => {
  const preflight = (path: string, origin = SHOP) =>
    fetch(url(path), {
      method: "OPTIONS",
      headers: {
        origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization,idempotency-key,x-purchase-pass",
      },
    });

  it("answers a purchase preflight from an allowed origin from memory: no Redis command, cached by Max-Age", async () => {
    const watch = await watchRedis(p.services.config.REDIS_KEY_PREFIX);
    const res = await preflight(`/api/sales/${openSale}/orders`);
    const seen = await watch.stop();
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe(SHOP);
    expect(res.headers.get("access-control-max-age")).toBe("600");
    const allowed = (res.headers.get("access-control-allow-headers") ?? "").toLowerCase();
    for (const h of ["authorization", "idempotency-key", "x-purchase-pass"]) expect(allowed).toContain(h);
    expect(seen).toEqual([]);
  });

  it("a purchase from an allowed origin exposes Retry-After; another origin gets no CORS headers", async () => {
    const res = await fetch(url(`/api/sales/${openSale}/orders`), {
      method: "POST",
      headers: { origin: SHOP, authorization: `Bearer ${await p.token("cors-buyer")}` },
      body: "{}",
    });
    expect(res.status).toBe(202);
    expect(res.headers.get("access-control-allow-origin")).toBe(SHOP);
    expect((res.headers.get("access-control-expose-headers") ?? "").toLowerCase()).toContain("retry-after");
    const sale = await fetch(url(`/api/sales/${openSale}`), { headers: { origin: SHOP } });
    expect(sale.headers.get("access-control-allow-origin")).toBe(SHOP);
    const evil = await preflight(`/api/sales/${openSale}/orders`, "https://evil.example");
    expect(evil.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("never on admin routes or the payment callback", async () => {
    for (const path of ["/admin/sales", "/api/payments/callback"]) {
      const res = await preflight(path);
      expect([path, res.headers.get("access-control-allow-origin")]).toEqual([path, null]);
    }
    const stats = await fetch(url(`/admin/sales/${openSale}/stats`), { headers: { origin: SHOP, authorization: `Bearer ${adminToken}` } });
    expect(stats.status).toBe(200);
    expect(stats.headers.get("access-control-allow-origin")).toBeNull();
  });
});
