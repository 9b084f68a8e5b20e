import type { IncomingMessage, ServerResponse } from "node:http";
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signUserToken } from "../../apps/core/jwt.js";
import { listen } from "../../apps/core/serve.js";
import type { Services } from "../../apps/core/services.js";
import { createGateway, type Gateway } from "../../apps/gateway/app.js";
import { PURCHASE_RESPONSES } from "../../apps/gateway/purchase-outcomes.js";
import { randomId, testServices } from "../helpers/env.js";
import { startTestPlatform, type TestPlatform } from "../helpers/platform.js";
import { type RawAnswer, rawExchange } from "../helpers/raw-http.js";
import { deferred, eventually, sleep } from "../helpers/wait.js";

/**
 * The sold-out fast path (apps/gateway/sold-out-fast-path.ts) where the gateway's configuration or
 * state changes the route's answer: CORS on (hono/cors adds Vary and Expose headers even without
 * an Origin), the route shedding load (503 before the sold-out flag), a Host header
 * @hono/node-server refuses (400). Each request goes to a listener with the fast path and to one
 * without, on the same gateway; the answers must match.
 */
let p: TestPlatform;
let services: Services;
let gateway: Gateway;
let fast: Awaited<ReturnType<typeof listen>>;
let slow: Awaited<ReturnType<typeof listen>>;
let taken = 0;
let soldOutSale: string;
let openSale: string;
const release = deferred();
let reached = 0;

beforeAll(async () => {
  p = await startTestPlatform({ handoff: { relayIntervalMs: 600_000 }, soldOutRefreshMs: 600_000, admitTickMs: 600_000 });
  soldOutSale = await p.createSale({ stock: 1 });
  openSale = await p.createSale({ stock: 10 });
  services = await testServices({ CORS_ORIGINS: "https://shop.example", MAX_INFLIGHT_PURCHASES: "1" });
  gateway = createGateway({
    services,
    // A stand-in API that holds every purchase until released: one in flight fills MAX_INFLIGHT_PURCHASES.
    apiFetch: async () => {
      reached++;
      await release.promise;
      return Response.json({ orderId: "held", status: "queued" }, { status: 202 });
    },
  });
  gateway.soldOut.markSoldOut(soldOutSale);
  const fastPath = gateway.fastPath;
  if (!fastPath) throw new Error("the gateway built no fast path (tracing on or debug logging?)");
  fast = await listen(gateway.app, "127.0.0.1", 0, {
    fastPath: (req: IncomingMessage, res: ServerResponse) => {
      const answered = fastPath(req, res);
      if (answered) taken++;
      return answered;
    },
  });
  slow = await listen(gateway.app, "127.0.0.1", 0);
});
afterAll(async () => {
  release.resolve();
  await fast?.close();
  await slow?.close();
  await gateway?.stop();
  await services?.close();
  await p?.stop();
});

/** The same raw request to both listeners; both answers and whether the fast path took it. */
async function both(request: string) {
  const before = taken;
  const a = await rawExchange(fast.port, request);
  const tookFastPath = taken > before;
  const b = await rawExchange(slow.port, request);
  return { fast: a, slow: b, tookFastPath };
}

/** An answer without what differs by nature between two requests (the date, a generated request id). */
function comparable(a: RawAnswer) {
  const { date: _date, "x-request-id": rid, ...headers } = a.headers;
  return { status: a.status, headers, body: a.body.replaceAll(rid ?? "-", "<request id>") };
}

const purchase = (host: string | undefined, version = "1.1") =>
  `POST /api/sales/${soldOutSale}/orders HTTP/${version}\r\n${host === undefined ? "" : `Host: ${host}\r\n`}Content-Length: 2\r\n\r\n{}`;

describe("with CORS on", () => {
  it("a request without an Origin: the 410 and the 400 carry the CORS middleware's Vary and Expose headers", async () => {
    for (const body of ["{}", "{"]) {
      const r = await both(`POST /api/sales/${soldOutSale}/orders HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
      expect(r.tookFastPath).toBe(true);
      expect(r.slow.headers.vary).toBe("Origin");
      expect(comparable(r.fast)).toEqual(comparable(r.slow));
    }
  });
});

describe("Host headers", () => {
  it("one @hono/node-server refuses goes to Hono (400); a plain one is taken", async () => {
    for (const [host, taken] of [
      ["a b", false],
      ["x/y", false],
      ["u@x", false],
      ["x:99999", false],
      [undefined, false],
      ["shop.example", true],
      ["127.0.0.1:8080", true],
    ] as const) {
      const r = await both(purchase(host, host === undefined ? "1.0" : "1.1"));
      expect(r.tookFastPath, `Host ${host}`).toBe(taken);
      expect(comparable(r.fast), `Host ${host}`).toEqual(comparable(r.slow));
    }
  });
});

describe("while the route sheds load", () => {
  it("a purchase of the sold-out sale gets the route's 503 overloaded with Retry-After, a malformed body its 400", async () => {
    const token = await signUserToken(services.config.JWT_SECRET, randomId("holder-"));
    const held = Promise.resolve(
      gateway.app.request(`/api/sales/${openSale}/orders`, { method: "POST", headers: { authorization: `Bearer ${token}` }, body: "{}" }),
    );
    await eventually("one purchase is in flight", () => reached === 1);
    const shed = await both(purchase("x"));
    expect(shed.tookFastPath).toBe(true);
    expect(shed.slow.status).toBe(503);
    expect(shed.slow.headers["retry-after"]).toBe("1");
    expect(comparable(shed.fast)).toEqual(comparable(shed.slow));
    const malformed = await both(`POST /api/sales/${soldOutSale}/orders HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n{`);
    expect(malformed.slow.status).toBe(400);
    expect(comparable(malformed.fast)).toEqual(comparable(malformed.slow));
    release.resolve();
    expect((await held).status).toBe(202);
    const after = await both(purchase("x"));
    expect(after.fast.status).toBe(410);
    expect(comparable(after.fast)).toEqual(comparable(after.slow));
  });
});

describe("a body that never completes", () => {
  const answers400 = async () =>
    ((await services.registry.getSingleMetric(PURCHASE_RESPONSES)?.get())?.values ?? [])
      .filter((v) => v.labels.sale === soldOutSale && v.labels.status === "400")
      .reduce((sum, v) => sum + v.value, 0);
  const head = () => `POST /api/sales/${soldOutSale}/orders HTTP/1.1\r\nHost: x\r\nContent-Length: 14\r\n\r\n{"quan`;

  it("a client that leaves mid-body is counted as the route counts it (a 400 for the sale), on either listener", async () => {
    for (const port of [slow.port, fast.port]) {
      const before = await answers400();
      const takenBefore = taken;
      const socket = connect(port, "127.0.0.1");
      await new Promise<void>((resolve) => socket.once("connect", resolve));
      socket.write(head());
      await sleep(200);
      socket.destroy();
      await eventually(`the abort on port ${port} is counted`, async () => (await answers400()) === before + 1);
      expect(taken - takenBefore).toBe(port === fast.port ? 1 : 0);
    }
  });

  it("a client cut off by the request timeout gets the listener's 408 and is counted alike", async () => {
    const timeouts = { headersTimeoutMs: 300, requestTimeoutMs: 600 };
    const fastPath = gateway.fastPath;
    if (!fastPath) throw new Error("no fast path");
    const withFast = await listen(gateway.app, "127.0.0.1", 0, { ...timeouts, fastPath });
    const without = await listen(gateway.app, "127.0.0.1", 0, timeouts);
    try {
      const seen = [];
      for (const port of [without.port, withFast.port]) {
        const before = await answers400();
        const a = await rawExchange(port, head(), {}, 10_000);
        await eventually(`the timeout on port ${port} is counted`, async () => (await answers400()) === before + 1);
        seen.push(comparable(a));
      }
      expect(seen[0]?.status).toBe(408);
      expect(seen[1]).toEqual(seen[0]);
    } finally {
      await withFast.close();
      await without.close();
    }
  });
});

describe("pipelining", () => {
  it("requests pipelined on one socket are answered in order, the fast path's among Hono's", async () => {
    const statuses = async (port: number) => {
      const buy = (body: string) =>
        `POST /api/sales/${soldOutSale}/orders HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
      const requests = [buy("{}"), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", buy("{"), buy("")];
      const socket = connect(port, "127.0.0.1");
      let text = "";
      socket.setEncoding("latin1");
      socket.on("data", (d: string) => {
        text += d;
      });
      socket.write(requests.join(""));
      await eventually("four answers", () => (text.match(/HTTP\/1\.1 \d{3} /g) ?? []).length === 4);
      socket.destroy();
      // Bodies end without a newline: each status line follows the previous answer's last byte.
      return (text.match(/HTTP\/1\.1 \d{3} /g) ?? []).map((l) => Number(l.slice(9, 12)));
    };
    const viaSlow = await statuses(slow.port);
    const before = taken;
    const viaFast = await statuses(fast.port);
    expect(taken - before).toBe(3);
    expect(viaFast).toEqual(viaSlow);
    expect(viaFast).toEqual([410, 200, 400, 410]);
  });
});
