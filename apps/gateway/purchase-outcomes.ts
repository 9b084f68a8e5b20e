import type { MiddlewareHandler } from "hono";
import { Counter, Histogram, type Registry } from "prom-client";
import type { AppEnv } from "../core/http.js";

export const PURCHASE_RESPONSES = "seckill_purchase_responses_total";
export const PURCHASE_DURATION = "seckill_purchase_duration_seconds";
/** Seconds; fine at the low end, where the purchase path lives (p99 of a few ms at 100/s). */
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

function counterOf(registry: Registry) {
  return (
    (registry.getSingleMetric(PURCHASE_RESPONSES) as Counter<"sale" | "status"> | undefined) ??
    new Counter({
      name: PURCHASE_RESPONSES,
      help: "Purchase answers at the gateway, by sale and HTTP status (202 accepted, 409 already purchased, 410 sold out, 429 limited, 503 shed or paused, ...)",
      labelNames: ["sale", "status"] as const,
      registers: [registry],
    })
  );
}

function histogramOf(registry: Registry) {
  return (
    (registry.getSingleMetric(PURCHASE_DURATION) as Histogram<"sale"> | undefined) ??
    new Histogram({
      name: PURCHASE_DURATION,
      help: "Time of the whole purchase path at the gateway (refusals included), by sale",
      labelNames: ["sale"] as const,
      buckets: BUCKETS,
      registers: [registry],
    })
  );
}

/**
 * Counts every purchase answer by sale and status, and times it: what the console's live
 * dashboard draws. Only sales the gateway knows (in its sale cache or sold-out flags) get a
 * label, so requests naming made-up sales cannot grow the series without bound; they are
 * counted by seckill_gateway_rejections_total already.
 */
export function observePurchases(deps: { registry: Registry; isKnownSale: (saleId: string) => boolean }): MiddlewareHandler<AppEnv> {
  const responses = counterOf(deps.registry);
  const duration = histogramOf(deps.registry);
  // Children looked up once per (sale, status): at the peak every request passes here.
  const children = new Map<string, { inc(): void }>();
  const timers = new Map<string, { observe(v: number): void }>();
  return async (c, next) => {
    if (c.req.method !== "POST") return next();
    const started = performance.now();
    await next();
    const path = c.req.path; // /api/sales/<saleId>/orders
    const saleId = path.slice(11, path.length - 7);
    if (!deps.isKnownSale(saleId)) return;
    const status = c.res.status;
    const key = `${saleId}\n${status}`;
    let counter = children.get(key);
    if (!counter) {
      counter = responses.labels({ sale: saleId, status: String(status) });
      children.set(key, counter);
    }
    counter.inc();
    let timer = timers.get(saleId);
    if (!timer) {
      timer = duration.labels({ sale: saleId });
      timers.set(saleId, timer);
    }
    timer.observe((performance.now() - started) / 1000);
  };
}
