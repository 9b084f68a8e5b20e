import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../apps/core/logger.js";
import { listen } from "../../apps/core/serve.js";
import { startTracing, stopTracing } from "../../apps/core/tracing.js";
import { signPayment } from "../../apps/domain/payment-event.js";
import { startTestPlatform, type TestPlatform } from "../helpers/platform.js";
import { eventually } from "../helpers/wait.js";

/** A span as an OTLP/HTTP JSON export carries it (opentelemetry-proto, JSON encoding: ids in hex). */
interface ReceivedSpan {
  service: string;
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  kind: number;
  attributes: Record<string, unknown>;
  links: { traceId: string; spanId: string }[];
}

type AnyValue = { stringValue?: string; intValue?: string | number; boolValue?: boolean; doubleValue?: number };
const plain = (v: AnyValue) => v.stringValue ?? v.intValue ?? v.boolValue ?? v.doubleValue;
const attrs = (list: { key: string; value: AnyValue }[] = []) => Object.fromEntries(list.map((a) => [a.key, plain(a.value)]));

/**
 * A minimal OTLP/HTTP trace receiver (the collector's /v1/traces, JSON encoding), so the test
 * sees exactly what a collector would.
 */
function otlpReceiver() {
  const spans: ReceivedSpan[] = [];
  const contentTypes = new Set<string>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (req.method !== "POST" || req.url !== "/v1/traces") {
        res.writeHead(404).end();
        return;
      }
      contentTypes.add(String(req.headers["content-type"]));
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      for (const rs of body.resourceSpans ?? []) {
        const service = String(attrs(rs.resource?.attributes)["service.name"]);
        for (const ss of rs.scopeSpans ?? [])
          for (const s of ss.spans ?? [])
            spans.push({
              service,
              name: s.name,
              traceId: s.traceId,
              spanId: s.spanId,
              parentSpanId: s.parentSpanId || undefined,
              kind: s.kind,
              attributes: attrs(s.attributes),
              links: (s.links ?? []).map((l: { traceId: string; spanId: string }) => ({ traceId: l.traceId, spanId: l.spanId })),
            });
      }
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  return { server, spans, contentTypes };
}

const hex = (bytes: number) => randomBytes(bytes).toString("hex");
/** A W3C traceparent as an upstream (a CDN, a load balancer) would send it; returns it and its trace id. */
function upstreamTrace() {
  const traceId = hex(16);
  return { traceId, traceparent: `00-${traceId}-${hex(8)}-01` };
}

const receiver = otlpReceiver();
let p: TestPlatform;
let base: string;
let closeHttp: () => Promise<void>;

beforeAll(async () => {
  await new Promise<void>((r) => receiver.server.listen(0, "127.0.0.1", r));
  const endpoint = `http://127.0.0.1:${(receiver.server.address() as AddressInfo).port}`;
  // Before the platform is built: the apps decide at creation whether to trace.
  await startTracing({ endpoint, serviceName: "seckill-test", logger: createLogger({ level: "silent" }) });
  p = await startTestPlatform({ writer: { maxRowsPerSec: 50_000 }, lifecycle: true });
  const http = await listen(p.gateway.app, "127.0.0.1", 0);
  base = `http://127.0.0.1:${http.port}`;
  closeHttp = http.close;
});

afterAll(async () => {
  await closeHttp?.();
  await p?.stop();
  await stopTracing();
  await new Promise<void>((r) => receiver.server.close(() => r()));
});

const inTrace = (traceId: string) => receiver.spans.filter((s) => s.traceId === traceId);
const KIND = { INTERNAL: 1, SERVER: 2, CLIENT: 3, PRODUCER: 4, CONSUMER: 5 };

describe("tracing over OTLP", () => {
  it("one purchase is one trace from the edge through the reserve script, the Kafka hop and the writer's insert", async () => {
    const saleId = await p.createSale({ stock: 5 });
    const { traceId, traceparent } = upstreamTrace();
    const res = await fetch(`${base}/api/sales/${saleId}/orders`, {
      method: "POST",
      headers: { authorization: `Bearer ${await p.token("traced-buyer")}`, "content-type": "application/json", traceparent },
      body: "{}",
    });
    expect(res.status).toBe(202);
    const { orderId } = (await res.json()) as { orderId: string };

    // Spans are exported in batches as they end: wait until every hop's span has arrived.
    const expected = [
      "POST /api/sales/:saleId/orders",
      "reserve-6.lua",
      "seckill.orders publish",
      "seckill.orders process",
      "orders insert",
    ];
    const spans = await eventually(
      "a span of every hop",
      () => {
        const got = inTrace(traceId);
        const names = got.map((s) => s.name);
        const twoServers = names.filter((n) => n === expected[0]).length === 2;
        return twoServers && expected.every((e) => names.some((n) => n.endsWith(e))) ? got : undefined;
      },
      30_000,
      100,
    );
    const insert = spans.find((s) => s.name === "orders insert")!;
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    const parentOf = (s: ReceivedSpan) => (s.parentSpanId ? byId.get(s.parentSpanId) : undefined);

    // gateway SERVER span -> API SERVER span (the forwarded traceparent) -> reserve -> EVALSHA
    const servers = spans.filter((s) => s.kind === KIND.SERVER && s.name === "POST /api/sales/:saleId/orders");
    expect(servers).toHaveLength(2);
    const gateway = servers.find((s) => !byId.has(s.parentSpanId ?? ""))!;
    const api = servers.find((s) => s !== gateway)!;
    expect(parentOf(api)).toBe(gateway);
    expect(gateway.attributes["http.response.status_code"]).toBe(202);
    const reserve = spans.find((s) => s.name === "reserve-6.lua")!;
    expect(parentOf(reserve)).toBe(api);
    expect(reserve.attributes["seckill.outcome"]).toBe("reserved");
    // The script call itself, from the maintained ioredis instrumentation.
    expect(spans.some((s) => s.kind === KIND.CLIENT && /^evalsha$/i.test(s.name) && parentOf(s) === reserve)).toBe(true);

    // API -> Kafka (traceparent in the message headers) -> writer -> insert (-> mysql2 query)
    const publish = spans.find((s) => s.kind === KIND.PRODUCER && s.attributes["seckill.order_id"] === orderId)!;
    expect(publish.name).toMatch(/seckill\.orders publish$/);
    expect(parentOf(publish)).toBe(api);
    const process = spans.find((s) => s.kind === KIND.CONSUMER && s.attributes["seckill.order_id"] === orderId)!;
    expect(parentOf(process)).toBe(publish);
    expect(parentOf(insert)).toBe(process);
    expect(insert.links.map((l) => l.spanId)).toContain(process.spanId);
    // The INSERT statement, from the maintained mysql2 instrumentation.
    await eventually("the mysql2 span of the insert", () =>
      inTrace(traceId).find((s) => s.kind === KIND.CLIENT && s.parentSpanId === insert.spanId && /insert/i.test(s.name)),
    );
    expect(new Set(receiver.contentTypes)).toEqual(new Set(["application/json"]));
  });

  it("a payment callback is one trace from the callback through seckill.payments to the payments consumer's transaction", async () => {
    const saleId = await p.createSale({ stock: 5, priceCents: 1234 });
    const buy = await p.buy(saleId, await p.token("traced-payer"));
    const { orderId } = (await buy.json()) as { orderId: string };
    await eventually("the order row", async () => (await p.rows(saleId)) === 1, 30_000);

    const { traceId, traceparent } = upstreamTrace();
    const body = JSON.stringify({
      eventId: `evt_${hex(6)}`,
      orderId,
      providerTxnId: `txn_${hex(6)}`,
      amountCents: 1234,
      status: "succeeded",
    });
    const ts = Math.floor(Date.now() / 1000);
    const res = await fetch(`${base}/api/payments/callback`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-timestamp": String(ts),
        "x-signature": signPayment(p.services.config.PAYMENT_WEBHOOK_SECRET, ts, body),
        traceparent,
      },
      body,
    });
    expect(res.status).toBe(200);

    // Spans are exported in batches as they end: wait for the consumer's and both callback spans.
    const callbackSpansOf = (spans: ReceivedSpan[]) =>
      spans.filter((s) => s.kind === KIND.SERVER && s.attributes["url.path"] === "/api/payments/callback");
    const spans = await eventually("the callback's and the consumer's spans", () => {
      const got = inTrace(traceId);
      const consumed = got.some((s) => s.kind === KIND.CONSUMER && s.attributes["seckill.order_id"] === orderId);
      return consumed && callbackSpansOf(got).length === 2 ? got : undefined;
    });
    const consumer = spans.find((s) => s.kind === KIND.CONSUMER && s.attributes["seckill.order_id"] === orderId)!;
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    const callbackSpans = callbackSpansOf(spans); // gateway (its route: POST /api/*) and API
    expect(callbackSpans.map((s) => s.name).sort()).toEqual(["POST /api/*", "POST /api/payments/callback"]);
    expect(consumer.name).toMatch(/seckill\.payments process$/);
    // Its parent is the API's callback span (via the message header), and the transaction's
    // queries are its children.
    expect(callbackSpans.map((s) => s.spanId)).toContain(consumer.parentSpanId);
    await eventually("the mysql2 spans of the payment's transaction", () =>
      inTrace(traceId).some((s) => s.kind === KIND.CLIENT && s.parentSpanId === consumer.spanId && /update/i.test(s.name)),
    );
    expect(byId.size).toBe(spans.length);
  });
});
