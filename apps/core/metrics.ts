import type { Hono } from "hono";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { isHttpWorker, workerMetricsSource } from "./cluster.js";
import { errorResponse } from "./errors.js";
import { type AppEnv, requestHeader } from "./http.js";
import { carriesToken } from "./identity.js";

/**
 * One prom-client registry per process (not the global one, so tests can build many apps side
 * by side). Components register their own metrics on it; `/metrics` serves it.
 */
export function createRegistry(opts: { defaultMetrics?: boolean; labels?: Record<string, string> } = {}): Registry {
  const registry = new Registry();
  if (opts.labels) registry.setDefaultLabels(opts.labels);
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  return registry;
}

/**
 * GET /metrics. On a public listener pass `adminToken`: the figures name every sale, upcoming
 * ones included, so the public edge serves them only with `Authorization: Bearer <ADMIN_TOKEN>`
 * (Prometheus: `authorization: {credentials: ...}` in the scrape config), or scrape OPS_PORT.
 * `source` replaces this process's own figures (the primary's sum over its HTTP workers).
 */
export function mountMetrics(
  app: Hono<AppEnv>,
  registry: Registry,
  opts: { adminToken?: string; source?: () => Promise<string> } = {},
): void {
  // In an HTTP worker the answer is the sum over every process of the platform, not this worker's share.
  const text = opts.source ?? (isHttpWorker ? workerMetricsSource(registry) : () => registry.metrics());
  const { adminToken } = opts;
  app.get("/metrics", async (c) => {
    if (adminToken !== undefined && !carriesToken(requestHeader(c, "authorization"), adminToken)) {
      return errorResponse(c, "unauthorized", "/metrics on this port needs Authorization: Bearer <ADMIN_TOKEN>; or scrape OPS_PORT");
    }
    return c.body(await text(), 200, { "Content-Type": registry.contentType });
  });
}

/**
 * The platform's business metrics, all defined here so components sharing a registry never
 * register one twice. Names answer what the person on call asks at the peak of a sale.
 */
export function createPlatformMetrics(registry: Registry) {
  const r = [registry];
  return {
    purchases: new Counter({
      name: "seckill_purchases_total",
      help: "Purchase attempts that reached the reserve script, by outcome (reserved, sold_out, already_purchased, ...)",
      labelNames: ["outcome"] as const,
      registers: r,
    }),
    reserveSeconds: new Histogram({
      name: "seckill_reserve_duration_seconds",
      help: "Time of one reserve-6.lua call, as the API sees it",
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: r,
    }),
    gatewayRejections: new Counter({
      name: "seckill_gateway_rejections_total",
      help: "Purchases the gateway answered itself, by reason (sold_out, rate_limited, overloaded, unauthorized, not_started, ended, ...)",
      labelNames: ["reason"] as const,
      registers: r,
    }),
    handoffPublished: new Counter({
      name: "seckill_handoff_published_total",
      help: "Accepted orders Kafka acknowledged, published by the accepting API",
      registers: r,
    }),
    handoffRepublished: new Counter({
      name: "seckill_handoff_republished_total",
      help: "Accepted orders the relay republished because their handoff was overdue (crash, failed send, broker outage)",
      registers: r,
    }),
    handoffFailures: new Counter({
      name: "seckill_handoff_send_failures_total",
      help: "Kafka sends of accepted orders that failed; the orders stay in Redis and the relay retries them",
      registers: r,
    }),
    handoffPending: new Gauge({
      name: "seckill_handoff_pending",
      help: "Accepted orders not yet acknowledged by Kafka, per sale (as of the relay's last pass)",
      labelNames: ["sale"] as const,
      registers: r,
    }),
    ordersPersisted: new Counter({
      name: "seckill_orders_persisted_total",
      help: "Order rows the writer inserted into MySQL",
      registers: r,
    }),
    ordersAlreadyPersisted: new Counter({
      name: "seckill_orders_already_persisted_total",
      help: "Redelivered order messages whose row already existed (duplicate key 1062: nothing to do)",
      registers: r,
    }),
    writerBatchSize: new Histogram({
      name: "seckill_writer_batch_rows",
      help: "Rows per insert batch",
      buckets: [1, 10, 50, 100, 250, 500, 1000, 2500],
      registers: r,
    }),
    writerConsumerLag: new Gauge({
      name: "seckill_writer_consumer_lag",
      help: "Messages on seckill.orders not yet persisted, per partition (high watermark - next offset)",
      labelNames: ["partition"] as const,
      registers: r,
    }),
    writerRetries: new Counter({
      name: "seckill_writer_db_retries_total",
      help: "Insert attempts retried because MySQL failed (the batches in hand wait while MySQL is down)",
      registers: r,
    }),
    consumerRestarts: new Counter({
      name: "seckill_consumer_restarts_total",
      help: "Kafka consumers recreated by their supervisor: reason crash (kafkajs gave up) or stall (no progress with messages waiting and MySQL answering)",
      labelNames: ["consumer", "reason"] as const,
      registers: r,
    }),
    payments: new Counter({
      name: "seckill_payments_total",
      help: "Payment events applied, by outcome (applied, refund_required, duplicate_payment, amount_mismatch, failed, unknown_order, txn_conflict)",
      labelNames: ["outcome"] as const,
      registers: r,
    }),
    paymentsParked: new Counter({
      name: "seckill_payments_parked_total",
      help: "Payments that arrived before their order was a MySQL row and were parked to wait for it (the other payments go on)",
      registers: r,
    }),
    paymentsWaitingForOrder: new Gauge({
      name: "seckill_payments_waiting_for_order",
      help: "Payments parked now, waiting for their order to become a row (each ends applied or, after PAYMENT_ORDER_WAIT_MS, unknown_order)",
      registers: r,
    }),
    ordersClosed: new Counter({
      name: "seckill_orders_expired_total",
      help: "Unpaid orders closed past their pay-by deadline",
      registers: r,
    }),
    stockReleased: new Counter({
      name: "seckill_stock_released_total",
      help: "Units returned to Redis for closed orders (once per order)",
      registers: r,
    }),
    releasesOwed: new Gauge({
      name: "seckill_stock_releases_owed",
      help: "Closed orders whose unit is not yet back in Redis (retried every pass; non-zero for long = Redis trouble, run reconcile)",
      registers: r,
    }),
    callbacksRefused: new Counter({
      name: "seckill_payment_callbacks_refused_total",
      help: "Payment callbacks refused before reaching Kafka, by reason (bad_signature: wrong secret, forged, or clock more than 300 s off)",
      labelNames: ["reason"] as const,
      registers: r,
    }),
    deadLettered: new Counter({
      name: "seckill_dlq_messages_total",
      help: "Messages sent to seckill.orders.dlq, by reason",
      labelNames: ["reason"] as const,
      registers: r,
    }),
    // Admission (passes and the waiting room). Gateway refusals of passes count in
    // seckill_gateway_rejections_total{reason="pass_required"|"invalid_pass"}.
    passesIssued: new Counter({
      name: "seckill_passes_issued_total",
      help: "Purchase passes issued, by how (challenge: a solved proof of work; queue: admitted from the waiting room)",
      labelNames: ["via"] as const,
      registers: r,
    }),
    admissionRequests: new Counter({
      name: "seckill_admission_requests_total",
      help: "Challenge, pass and queue calls answered by the API, by call and outcome (waiting, admitted, sold_out, bad_solution, ...); queue calls the gateway's per-user limit refused count as outcome rate_limited",
      labelNames: ["call", "outcome"] as const,
      registers: r,
    }),
    queueAdmitted: new Counter({
      name: "seckill_queue_admitted_total",
      help: "Users admitted from a sale's waiting room by this process's admission ticks",
      labelNames: ["sale"] as const,
      registers: r,
    }),
    queuePlacesClosed: new Counter({
      name: "seckill_queue_places_closed_total",
      help: "Admitted places closed by this process's ticks: bought (converted) or lapsed (pass expired unused; the unit goes to the next in line)",
      labelNames: ["sale", "outcome"] as const,
      registers: r,
    }),
    queueWaiting: new Gauge({
      name: "seckill_queue_waiting",
      help: "Users waiting in a sale's waiting room (as of the last admission tick)",
      labelNames: ["sale"] as const,
      registers: r,
    }),
    queueHolding: new Gauge({
      name: "seckill_queue_holding",
      help: "Admitted users holding a place (a unit is kept for each until they buy or their pass expires)",
      labelNames: ["sale"] as const,
      registers: r,
    }),
    queueAdmissionRate: new Gauge({
      name: "seckill_queue_admission_rate",
      help: "Measured admissions per second of a sale's waiting room (decaying over ~10 s); 0 with people waiting = stock all promised or an admitter problem",
      labelNames: ["sale"] as const,
      registers: r,
    }),
    reconcileRuns: new Counter({
      name: "seckill_reconcile_runs_total",
      help: "Reconciles of a sale (periodic or on demand), by outcome: consistent, repaired, recomputed, waiting_for_writer, needs_attention (a person must look)",
      labelNames: ["state"] as const,
      registers: r,
    }),
    orderEventsPublished: new Counter({
      name: "seckill_order_events_published_total",
      help: "Order events Kafka acknowledged on seckill.order-events (a resend after a crash or a replay counts again)",
      registers: r,
    }),
    orderEventsRelayFailures: new Counter({
      name: "seckill_order_events_relay_failures_total",
      help: "Outbox relay passes that failed (Kafka or MySQL away); their events stay unsent and are retried",
      registers: r,
    }),
    orderEventsUnsent: new Gauge({
      name: "seckill_order_events_unsent",
      help: "Outbox events not yet acknowledged by Kafka (growing: check the relay's log, Kafka and MySQL)",
      registers: r,
    }),
    orderEventsLag: new Gauge({
      name: "seckill_order_events_lag_seconds",
      help: "Age of the oldest unsent outbox event: how far behind the order events other systems see are",
      registers: r,
    }),
    orderEventsPruned: new Counter({
      name: "seckill_order_events_pruned_total",
      help: "Sent outbox events deleted after the retention period",
      registers: r,
    }),
  };
}

export type PlatformMetrics = ReturnType<typeof createPlatformMetrics>;
