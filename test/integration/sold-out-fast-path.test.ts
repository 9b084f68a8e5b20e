import type { IncomingMessage, ServerResponse } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listen } from "../../apps/core/serve.js";
import { PURCHASE_RESPONSES } from "../../apps/gateway/purchase-outcomes.js";
import { startTestPlatform, type TestPlatform } from "../helpers/platform.js";
import { type RawAnswer, rawExchange } from "../helpers/raw-http.js";
import { watchRedis } from "../helpers/redis.js";
import { eventually } from "../helpers/wait.js";

/**
 * The gateway's sold-out fast path (apps/gateway/sold-out-fast-path.ts) answers before Hono. It
 * must answer exactly what the route would: every request below goes to a listener with the fast
 * path and to one without it, on the same gateway, and the two answers must match (status, error
 * body, headers) while the fast path says which requests it took.
 */
let p: TestPlatform;
let fast: Awaited<ReturnType<typeof listen>>;
let slow: Awaited<ReturnType<typeof listen>>;
let taken = 0;
let soldOutSale: string;
let openSale: string;

beforeAll(async () => {
  // Background loops off (relay, sold-out refresh, admission ticks): every Redis command in a window below is a request's.
  p = await startTestPlatform({ handoff: { relayIntervalMs: 600_000 }, soldOutRefreshMs: 600_000, admitTickMs: 600_000 });
  const fastPath = p.gateway.fastPath;
  if (!fastPath) throw new Error("the gateway built no fast path (tracing on or debug logging?)");
  fast = await listen(p.gateway.app, "127.0.0.1", 0, {
    fastPath: (req: IncomingMessage, res: ServerResponse) => {
      const answered = fastPath(req, res);
      if (answered) taken++;
      return answered;
    },
  });
  slow = await listen(p.gateway.app, "127.0.0.1", 0);
  soldOutSale = await p.createSale({ stock: 1 });
  expect((await p.buy(soldOutSale, await p.token("the-only-buyer"))).status).toBe(202);
  await eventually("the sold-out broadcast reached the gateway", () => p.gateway.soldOut.isSoldOut(soldOutSale));
  openSale = await p.createSale({ stock: 100 });
});
afterAll(async () => {
  await fast?.close();
  await slow?.close();
  await p?.stop();
});

const head = (path: string, extra: string) => `POST ${path} HTTP/1.1\r\nHost: x\r\n${extra}`;

/** The same request to both listeners; returns both answers and whether the fast path took it. */
async function both(path: string, extra: string, body?: string) {
  const before = taken;
  const withBody = (h: string) => (body === undefined ? `${h}\r\n` : `${h}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  const a = await rawExchange(fast.port, withBody(head(path, extra)));
  const b = await rawExchange(slow.port, withBody(head(path, extra)));
  return { fast: a, slow: b, tookFastPath: taken > before };
}

/** An answer without what differs by nature between two requests (the date, a generated request id). */
function comparable(a: RawAnswer, requestIdGiven: boolean) {
  const body = JSON.parse(a.body) as { error: Record<string, unknown> };
  if (!requestIdGiven) {
    expect(body.error.requestId).toBe(a.headers["x-request-id"]);
    expect(body.error.requestId).toMatch(/^[0-9a-f-]{36}$/);
    delete body.error.requestId;
  }
  const { date: _date, "x-request-id": rid, ...headers } = a.headers;
  return { status: a.status, body, headers, requestId: requestIdGiven ? rid : "generated" };
}

describe("the sold-out fast path answers what the route answers", () => {
  const cases: { name: string; extra: (token: string) => string; body?: string; fast: boolean; requestId?: boolean }[] = [
    { name: "a plain {} body", extra: (t) => `Authorization: Bearer ${t}\r\n`, body: "{}", fast: true },
    { name: '{"quantity":1}', extra: (t) => `Authorization: Bearer ${t}\r\n`, body: '{"quantity":1}', fast: true },
    { name: "no body at all", extra: (t) => `Authorization: Bearer ${t}\r\n`, fast: true },
    { name: "an empty body", extra: (t) => `Authorization: Bearer ${t}\r\n`, body: "", fast: true },
    { name: "a valid body with whitespace", extra: (t) => `Authorization: Bearer ${t}\r\n`, body: ' { "quantity" : 1 } ', fast: true },
    { name: "no token (the flag comes before the token)", extra: () => "", body: "{}", fast: true },
    { name: "a malformed body: 400 whatever the sale's state", extra: (t) => `Authorization: Bearer ${t}\r\n`, body: "{", fast: true },
    { name: "quantity 2: 400", extra: (t) => `Authorization: Bearer ${t}\r\n`, body: '{"quantity":2}', fast: true },
    { name: "an unknown field: 400", extra: (t) => `Authorization: Bearer ${t}\r\n`, body: '{"qty":1}', fast: true },
    {
      name: "a safe X-Request-Id is echoed",
      extra: (t) => `Authorization: Bearer ${t}\r\nX-Request-Id: abc-123_x=\r\n`,
      body: "{}",
      fast: true,
      requestId: true,
    },
    {
      name: "an unsafe X-Request-Id is replaced",
      extra: (t) => `Authorization: Bearer ${t}\r\nX-Request-Id: a b<c>\r\n`,
      body: "{}",
      fast: true,
    },
    {
      name: "an Idempotency-Key goes to the API",
      extra: (t) => `Authorization: Bearer ${t}\r\nIdempotency-Key: k-1\r\n`,
      body: "{}",
      fast: false,
    },
    {
      name: "a body over 64 bytes goes the usual way",
      extra: (t) => `Authorization: Bearer ${t}\r\n`,
      body: `{${" ".repeat(80)}}`,
      fast: false,
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const token = await p.token(`fp-${c.name.length}-${Date.now()}`);
      const r = await both(`/api/sales/${soldOutSale}/orders`, c.extra(token), c.body);
      expect(r.tookFastPath).toBe(c.fast);
      expect(comparable(r.fast, !!c.requestId)).toEqual(comparable(r.slow, !!c.requestId));
      expect([400, 410]).toContain(r.fast.status);
    });
  }

  it("a query string, an escaped id, a GET or an open sale are never taken", async () => {
    const token = await p.token("fp-other");
    for (const [path, method] of [
      [`/api/sales/${soldOutSale}/orders?x=1`, "POST"],
      [`/api/sales/${encodeURIComponent(soldOutSale).replace(/-/g, "%2D")}/orders`, "POST"],
      [`/api/sales/${soldOutSale}/orders`, "GET"],
      [`/api/sales/${openSale}/orders`, "POST"],
    ]) {
      const before = taken;
      const a = await rawExchange(
        fast.port,
        `${method} ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Length: 2\r\n\r\n{}`,
      );
      expect(taken, `${method} ${path}`).toBe(before);
      expect(a.status).toBeGreaterThan(0);
    }
  });

  it("a chunked body goes the usual way", async () => {
    const before = taken;
    const a = await rawExchange(
      fast.port,
      `POST /api/sales/${soldOutSale}/orders HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n`,
    );
    expect(a.status).toBe(410);
    expect(taken).toBe(before);
  });
});

describe("under a crowd", () => {
  it("2,000 concurrent buyers of the sold-out sale: 2,000 × 410 from memory, counted like the route's, no Redis command", async () => {
    const counterValue = async (name: string, labels: Record<string, string>) =>
      ((await p.services.registry.getSingleMetric(name)?.get())?.values ?? [])
        .filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))
        .reduce((s, v) => s + v.value, 0);
    const rejectedBefore = await counterValue("seckill_gateway_rejections_total", { reason: "sold_out" });
    const answersBefore = await counterValue(PURCHASE_RESPONSES, { sale: soldOutSale, status: "410" });
    const before = taken;
    const watch = await watchRedis(p.services.config.REDIS_KEY_PREFIX);
    const tokens = await Promise.all(Array.from({ length: 2000 }, (_, i) => p.token(`crowd-${i}`)));
    const answers = await Promise.all(
      tokens.map((t) =>
        fetch(`http://127.0.0.1:${fast.port}/api/sales/${soldOutSale}/orders`, {
          method: "POST",
          headers: { authorization: `Bearer ${t}`, "content-type": "application/json" },
          body: "{}",
        }).then(async (r) => ({ status: r.status, body: (await r.json()) as { error: { code: string; saleId: string } } })),
      ),
    );
    expect(await watch.stop()).toEqual([]);
    expect(answers.every((a) => a.status === 410 && a.body.error.code === "sold_out" && a.body.error.saleId === soldOutSale)).toBe(true);
    expect(taken - before).toBe(2000);
    expect(await counterValue("seckill_gateway_rejections_total", { reason: "sold_out" })).toBe(rejectedBefore + 2000);
    expect(await counterValue(PURCHASE_RESPONSES, { sale: soldOutSale, status: "410" })).toBe(answersBefore + 2000);
  });
});
