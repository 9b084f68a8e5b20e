import type { ConnectedProducer, Topics } from "../core/kafka.js";
import type { Logger } from "../core/logger.js";
import type { PlatformMetrics } from "../core/metrics.js";
import { every } from "../core/periodic.js";
import { type Tracing, tracing } from "../core/tracing.js";
import type { SaleStore } from "../domain/sale-store.js";

/**
 * Hands accepted orders to Kafka without losing any.
 *
 * The reserve script already recorded each order's message in Redis (its handoff record). The
 * accepting API publishes it at once, batched (kafkajs sends one request per `send`, so one
 * awaited send per order would be ten times slower), and drops the record when Kafka has
 * acknowledged it. Anything not acknowledged (a crash, a failed send, a broker outage, a
 * kafkajs give-up) stays in Redis; the relay, running in every API instance, claims records
 * overdue by more than the grace period, under a lease, and republishes them. A duplicate
 * message is harmless (the writer is idempotent on the order id); a lost one is impossible
 * while Redis keeps the record.
 */
export interface HandoffOptions {
  /**
   * How long an accepted order waits for others to share its Kafka request (default 10 ms). The
   * 202 never waits for it; larger batches cost kafkajs far less CPU per order (2 ms measured
   * about 20 % fewer purchases/s than 10 ms under the accept load of `npm run bench`).
   */
  lingerMs?: number;
  maxBatch?: number;
  relayIntervalMs?: number;
  relayLeaseMs?: number;
  /** Above this many messages in flight, new ones are left to the relay (bounded memory during an outage). */
  maxInFlight?: number;
}

interface Pending {
  saleId: string;
  /** The stock bucket whose handoff record this is. */
  bucket: number;
  orderId: string;
  message: string;
  /** The accepting request's trace context (tracing on only); the relay's republished records have none. */
  trace?: ReturnType<Tracing["active"]>;
}

export function createHandoff(
  deps: { producer: ConnectedProducer; store: SaleStore; topics: Topics; metrics: PlatformMetrics; logger: Logger },
  opts: HandoffOptions = {},
) {
  const lingerMs = opts.lingerMs ?? 10;
  const maxBatch = opts.maxBatch ?? 500;
  const relayIntervalMs = opts.relayIntervalMs ?? 1000;
  const leaseMs = opts.relayLeaseMs ?? 10_000;
  const maxInFlight = opts.maxInFlight ?? 20_000;
  const log = deps.logger.child({ component: "handoff" });
  const tracer = tracing();

  let queue: Pending[] = [];
  let timer: NodeJS.Timeout | undefined;
  let inFlight = 0;
  const sends = new Set<Promise<void>>();
  let relay: { stop(): Promise<void> } | undefined;
  let stopped = false;
  let overflowLogged = false;

  /**
   * With tracing on: one PRODUCER span per message, child of its purchase, whose context travels
   * in the message's `traceparent` header to the writer. Ended when Kafka has answered.
   */
  function traced(batch: Pending[]) {
    if (!tracer) return { messages: batch.map((p) => ({ key: p.orderId, value: p.message })), end: (_err?: Error) => {} };
    const spans = batch.map((p) =>
      tracer.startSpan(`${deps.topics.orders} publish`, {
        kind: tracer.kinds.PRODUCER,
        parent: p.trace,
        attributes: { "messaging.system": "kafka", "messaging.destination.name": deps.topics.orders, "seckill.order_id": p.orderId },
      }),
    );
    const messages = batch.map((p, i) => {
      const headers: Record<string, string> = {};
      tracer.withSpan(spans[i], () => tracer.inject(headers));
      return { key: p.orderId, value: p.message, headers };
    });
    return {
      messages,
      end(err?: Error) {
        for (const s of spans) {
          if (err) s.setStatus({ code: 2, message: err.message }); // SpanStatusCode.ERROR
          s.end();
        }
      },
    };
  }

  /** Publishes one batch; on success drops the handoff records. Never throws. */
  async function publish(batch: Pending[], republish: boolean): Promise<boolean> {
    const { messages, end } = traced(batch);
    try {
      await deps.producer.send({ topic: deps.topics.orders, acks: -1, messages });
      end();
    } catch (err) {
      end(err as Error);
      deps.metrics.handoffFailures.inc(batch.length);
      log.error(
        { err, orders: batch.length, sales: [...new Set(batch.map((p) => p.saleId))], republish },
        "kafka did not take accepted orders; they stay in Redis and the relay retries them (check the brokers)",
      );
      return false;
    }
    (republish ? deps.metrics.handoffRepublished : deps.metrics.handoffPublished).inc(batch.length);
    const byBucket = new Map<string, { saleId: string; bucket: number; ids: string[] }>();
    for (const p of batch) {
      const key = `${p.bucket}/${p.saleId}`;
      const group = byBucket.get(key);
      if (group) group.ids.push(p.orderId);
      else byBucket.set(key, { saleId: p.saleId, bucket: p.bucket, ids: [p.orderId] });
    }
    try {
      await Promise.all([...byBucket.values()].map((g) => deps.store.acknowledge(g.saleId, g.bucket, g.ids)));
    } catch (err) {
      // Kafka has them; the records will be republished once (a harmless duplicate).
      log.warn({ err, orders: batch.length }, "could not drop handoff records after Kafka acknowledged them");
    }
    return true;
  }

  function flush(): void {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (queue.length === 0) return;
    const batch = queue;
    queue = [];
    inFlight += batch.length;
    const p: Promise<void> = publish(batch, false).then(() => {
      inFlight -= batch.length;
      sends.delete(p);
    });
    sends.add(p);
  }

  async function relayOnce(): Promise<number> {
    let republished = 0;
    for (const saleId of await deps.store.activeSales()) {
      for (;;) {
        const claimed = await deps.store.claimOverdue(saleId, maxBatch, leaseMs);
        if (claimed.length === 0) break;
        const ok = await publish(
          claimed.map((c) => ({ saleId, ...c })),
          true,
        );
        if (!ok) break; // Kafka is away: the lease brings them back later.
        republished += claimed.length;
        if (claimed.length < maxBatch) break;
      }
      deps.metrics.handoffPending.set({ sale: saleId }, await deps.store.pendingHandoffs(saleId));
    }
    if (republished > 0) log.warn({ republished }, "relay republished overdue accepted orders to Kafka");
    return republished;
  }

  return {
    /** Queues an accepted order's message for Kafka; never blocks the 202. */
    enqueue(saleId: string, orderId: string, message: string, bucket = 0): void {
      // Stopping: the record stays in Redis and another API's relay publishes it.
      if (stopped) return;
      if (inFlight + queue.length >= maxInFlight) {
        if (!overflowLogged)
          log.warn({ inFlight, maxInFlight }, "handoff backlog full: new orders wait for the relay (Kafka slow or away)");
        overflowLogged = true;
        return;
      }
      overflowLogged = false;
      queue.push(tracer ? { saleId, bucket, orderId, message, trace: tracer.active() } : { saleId, bucket, orderId, message });
      if (queue.length >= maxBatch) flush();
      else timer ??= setTimeout(flush, lingerMs);
    },
    relayOnce,
    /** Connects the producer (a failure is logged, not thrown: orders wait in Redis) and starts the relay. */
    async start(startOpts: { relay?: boolean } = {}): Promise<void> {
      if (startOpts.relay ?? true) {
        relay = every(relayIntervalMs, relayOnce, (err) => log.error({ err }, "handoff relay pass failed; retrying next interval"));
      }
      await deps.producer.ensureConnected().catch((err) => {
        log.error({ err }, "kafka producer could not connect; accepted orders wait in Redis for the relay");
      });
    },
    /** Sends what is queued and waits for every send in flight; stops the relay. */
    async stop(): Promise<void> {
      stopped = true;
      await relay?.stop();
      flush();
      await Promise.all(sends);
      await deps.producer.disconnect();
    },
    get inFlight() {
      return inFlight + queue.length;
    },
  };
}

export type Handoff = ReturnType<typeof createHandoff>;
