import type { Admin, EachBatchPayload, Kafka } from "kafkajs";
import { Counter, type Registry } from "prom-client";
import { type Database, databaseAnswers } from "../core/db/client.js";
import { isTransient, sqlErrno } from "../core/db/errors.js";
import type { Foreground } from "../core/foreground.js";
import { consumerLag, createConsumer, heartbeatEvery, keepingMembership, supervisedConsumer } from "../core/kafka.js";
import type { Logger } from "../core/logger.js";
import { type OrderEvent, orderEventSchema } from "../domain/order-events.js";
import { applyOrderEvents } from "./ledger.js";

function loyaltyMetrics(registry: Registry) {
  // One set per registry, also when a test builds two consumers on one.
  const existing = registry.getSingleMetric("seckill_loyalty_events_total") as Counter<"outcome"> | undefined;
  return {
    events:
      existing ??
      new Counter({
        name: "seckill_loyalty_events_total",
        help: "Order events the loyalty ledger consumed, by outcome (applied, duplicate, stale, invalid)",
        labelNames: ["outcome"] as const,
        registers: [registry],
      }),
  };
}

export interface LoyaltyConsumerDeps {
  kafka: Kafka;
  topic: string;
  groupId: string;
  database: Database;
  logger: Logger;
  registry: Registry;
  timing: { sessionTimeout: number; maxWaitTimeInMs: number };
  /** A connected Kafka admin client, for the stall watchdog's lag look-up. */
  kafkaAdmin: () => Promise<Admin>;
  /** Called each time the supervisor recreates the consumer (for a metric). */
  onRestart?: (reason: "crash" | "stall") => void;
  /** Purchases sharing this process, which each batch first waits for (core/foreground.ts). */
  foreground?: Foreground;
  /** Called after each transaction commits, with the events it applied (for tests and figures). */
  onApplied?: (events: OrderEvent[]) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The reference consumer of `seckill.order-events`, and the pattern other teams should copy:
 * its own consumer group, autoCommit off, each fetched batch applied in one MySQL transaction
 * of its own (deduplicated by event id, newer versions only, see applyOrderEvents), and the
 * partition's offset committed only after that transaction committed. A crash anywhere
 * redelivers from the last commit, and the dedupe makes that harmless. Events of one order share
 * a partition (key = order id), so they arrive in version order. MySQL away: the partition waits
 * and retries with backoff, nothing is skipped; an invalid message is logged and skipped.
 */
export function createLoyaltyConsumer(deps: LoyaltyConsumerDeps) {
  const log = deps.logger.child({ component: "loyalty" });
  const metrics = loyaltyMetrics(deps.registry);

  function parse(p: EachBatchPayload): OrderEvent[] {
    const events: OrderEvent[] = [];
    for (const m of p.batch.messages) {
      try {
        events.push(orderEventSchema.parse(JSON.parse(m.value?.toString("utf8") ?? "")));
      } catch (err) {
        metrics.events.inc({ outcome: "invalid" });
        log.error({ err, partition: p.batch.partition, offset: m.offset }, "invalid order event skipped (not a valid order event)");
      }
    }
    return events;
  }

  async function eachBatch(p: EachBatchPayload): Promise<void> {
    const { batch } = p;
    if (batch.isEmpty()) return;
    const events = parse(p);
    for (let attempt = 1; ; attempt++) {
      try {
        const r = await applyOrderEvents(deps.database.db, events);
        metrics.events.inc({ outcome: "applied" }, r.applied.length);
        metrics.events.inc({ outcome: "duplicate" }, r.duplicates);
        metrics.events.inc({ outcome: "stale" }, r.stale);
        if (r.gaps)
          log.warn(
            { gaps: r.gaps, partition: batch.partition },
            "order events applied past a version gap (earlier ones pruned or never consumed)",
          );
        deps.onApplied?.(r.applied);
        break;
      } catch (err) {
        // A duplicate key means another member applied part of this batch meanwhile (a rebalance): redo it, the dedupe skips that part.
        const fields = { err, errno: sqlErrno(err), attempt, partition: batch.partition, firstOffset: batch.firstOffset() };
        if (isTransient(err) || sqlErrno(err) === 1062)
          log.warn(fields, "order events not applied yet (MySQL unavailable or busy); retrying");
        else log.error(fields, "MySQL rejects these order events; the partition waits until it is fixed");
        if (!p.isRunning() || p.isStale()) return; // not committed: redelivered to whoever owns the partition
        await sleep(Math.min(5000, 100 * 2 ** Math.min(attempt, 6)));
        try {
          await p.heartbeat();
        } catch {
          return;
        }
      }
    }
    p.resolveOffset(batch.lastOffset());
    await current().commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: String(Number(batch.lastOffset()) + 1) }]);
  }

  const supervised = supervisedConsumer({
    name: "loyalty",
    logger: log,
    topic: deps.topic,
    onRestart: deps.onRestart,
    // Recreated when messages wait, nothing is committed for a while, and MySQL answers.
    watchdog: {
      blocked: async () => !(await databaseAnswers(deps.database)),
      lag: async (partitions) => consumerLag(await deps.kafkaAdmin(), deps.groupId, deps.topic, partitions),
      stallAfterMs: Math.max(30_000, 3 * deps.timing.sessionTimeout),
    },
    create: () => createConsumer(deps.kafka, { groupId: deps.groupId, ...deps.timing }),
    async setup(consumer) {
      await consumer.subscribe({ topic: deps.topic, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: 3,
        // A batch may wait long (MySQL away): stay in the group meanwhile.
        eachBatch: keepingMembership(eachBatch, heartbeatEvery(deps.timing.sessionTimeout), deps.foreground),
      });
    },
  });
  const current = () => supervised.current();

  return {
    ready: supervised.ready,
    async start(): Promise<void> {
      await supervised.start();
      log.info({ topic: deps.topic, groupId: deps.groupId }, "loyalty ledger consuming order events");
    },
    stop: supervised.stop,
  };
}

export type LoyaltyConsumer = ReturnType<typeof createLoyaltyConsumer>;
