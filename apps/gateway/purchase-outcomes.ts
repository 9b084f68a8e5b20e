import type { MiddlewareHandler } from "hono";
import { Counter, Histogram, type Registry } from "prom-client";
import type { AppEnv } from "../core/http.js";

export const PURCHASE_RESPONSES = "seckill_purchase_responses_total";
export const PURCHASE_DURATION = "seckill_purchase_duration_seconds";
/** Seconds; fine at the low end, where the purchase path lives (p99 of a few ms at 100/s). */
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

interface Series {
  /** Answers not yet added to the counter: sale -> status -> count. */
  pending: Map<string, Map<number, number>>;
  duration: Histogram<"sale">;
}

/** One set per registry: several gateways built on one registry (tests) share it. */
const perRegistry = new WeakMap<Registry, Series>();

function seriesOf(registry: Registry): Series {
  let s = perRegistry.get(registry);
  if (s) return s;
  const pending = new Map<string, Map<number, number>>();
  new Counter({
    name: PURCHASE_RESPONSES,
    help: "Purchase answers at the gateway, by sale and HTTP status (202 accepted, 409 already purchased, 410 sold out, 429 limited, 503 shed or paused, ...)",
    labelNames: ["sale", "status"] as const,
    registers: [registry],
    // Counted in plain maps on the hot path and added here, when the metrics are read: a
    // prom-client child's inc() hashes its labels on every call (~0.5 µs), a Map update does not.
    collect() {
      for (const [sale, byStatus] of pending) {
        for (const [status, n] of byStatus) {
          if (n === 0) continue;
          this.inc({ sale, status: String(status) }, n);
          byStatus.set(status, 0);
        }
      }
    },
  });
  const duration = new Histogram({
    name: PURCHASE_DURATION,
    help: "Time of the whole purchase path at the gateway (refusals included), by sale",
    labelNames: ["sale"] as const,
    buckets: BUCKETS,
    registers: [registry],
  });
  s = { pending, duration };
  perRegistry.set(registry, s);
  return s;
}

/**
 * Counts every purchase answer by sale and status, and times it: what the console's live
 * dashboard draws. Only sales the gateway knows (in its sale cache or sold-out flags) get a
 * label, so requests naming made-up sales cannot grow the series without bound; they are
 * counted by seckill_gateway_rejections_total already. `record` is for answers given outside
 * Hono (the sold-out fast path, sold-out-fast-path.ts); `middleware` times the route.
 */
export function purchaseOutcomes(deps: { registry: Registry; isKnownSale: (saleId: string) => boolean }) {
  const { pending, duration } = seriesOf(deps.registry);
  const timers = new Map<string, { observe(v: number): void }>();
  /** One answer: its sale, HTTP status and time taken in seconds. */
  const record = (saleId: string, status: number, seconds: number) => {
    if (!deps.isKnownSale(saleId)) return;
    let byStatus = pending.get(saleId);
    if (!byStatus) {
      byStatus = new Map();
      pending.set(saleId, byStatus);
    }
    byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
    let timer = timers.get(saleId);
    if (!timer) {
      timer = duration.labels({ sale: saleId });
      timers.set(saleId, timer);
    }
    timer.observe(seconds);
  };
  const middleware: MiddlewareHandler<AppEnv> = async (c, next) => {
    if (c.req.method !== "POST") return next();
    const started = performance.now();
    await next();
    const path = c.req.path; // /api/sales/<saleId>/orders
    record(path.slice(11, path.length - 7), c.res.status, (performance.now() - started) / 1000);
  };
  return { middleware, record };
}
