import { gt, sql } from "drizzle-orm";
import { sales } from "../core/db/schema/index.js";
import { connectedProducer, createProducer } from "../core/kafka.js";
import { every } from "../core/periodic.js";
import { type Services, sharedKafkaAdmin } from "../core/services.js";
import { createReconciler, fullPassReason } from "../domain/reconcile.js";
import { createRedisGuard } from "../domain/redis-guard.js";
import { createSaleStore } from "../domain/sale-store.js";
import { createExpiryWorker } from "./expiry.js";
import { createOutboxRelay, type OutboxRelayOptions } from "./outbox-relay.js";
import { createPaymentsConsumer } from "./payments.js";

/**
 * Everything after the 202 and the row: payments applied, unpaid orders expired with their
 * stock returned, a periodic reconcile of every running sale (which also reopens a sale
 * whose Redis state was lost, once nothing is in flight), and the outbox relay publishing
 * order events to seckill.order-events.
 */
export function createLifecycle(
  services: Services,
  opts: {
    expiryIntervalMs?: number;
    reconcileIntervalMs?: number;
    /** How often blocked sales are looked for and reconciled (default 1000 ms; 0 turns it off). */
    reopenIntervalMs?: number;
    paymentsGroupId?: string;
    relay?: OutboxRelayOptions | false;
  } = {},
) {
  const { config, logger } = services;
  const log = logger.child({ component: "lifecycle" });
  const store = createSaleStore(services.redis, config.REDIS_KEY_PREFIX);
  const guard = createRedisGuard({ redis: services.redis, store, logger });
  const payments = createPaymentsConsumer(services, store, { groupId: opts.paymentsGroupId });
  const expiry = createExpiryWorker(services, store, { intervalMs: opts.expiryIntervalMs ?? config.EXPIRY_INTERVAL_MS });
  const reconciler = createReconciler({ services, store, kafkaAdmin: sharedKafkaAdmin(services) });
  const reconcileEvery = opts.reconcileIntervalMs ?? config.RECONCILE_INTERVAL_MS;
  const relayProducer = connectedProducer(createProducer(services.kafka));
  const relay = createOutboxRelay(
    {
      database: services.database,
      producer: relayProducer,
      topic: services.topics.orderEvents,
      metrics: services.metrics,
      logger,
      foreground: services.foreground,
    },
    {
      intervalMs: config.ORDER_EVENTS_RELAY_INTERVAL_MS,
      batchSize: config.ORDER_EVENTS_BATCH_SIZE,
      retentionHours: config.ORDER_EVENTS_RETENTION_HOURS,
      ...(opts.relay || {}),
    },
  );
  let loop: { stop(): Promise<void> } | undefined;
  let reopenLoop: { stop(): Promise<void> } | undefined;

  /**
   * Reconciles every blocked sale (a Redis guard, in any process, blocked it after a restart,
   * data loss or failover) now rather than at the next periodic pass, and again each pass while
   * the writer catches up: the sale stays closed only as long as the recompute needs.
   */
  async function reopenBlocked(): Promise<void> {
    for (const saleId of await store.activeSales()) {
      if (!(await store.isBlocked(saleId))) continue;
      try {
        const report = await reconciler.reconcile(saleId);
        if (report?.reopened) log.warn({ saleId }, "a sale the Redis guard blocked was recomputed and reopened");
      } catch (err) {
        log.warn({ err, saleId }, "reconcile of a sale the Redis guard blocked failed; retrying next pass");
      }
    }
  }

  /** Sales to look at: those MySQL says run now or ended within a day, and any Redis still holds. */
  async function runningSales(): Promise<string[]> {
    const recent = await services.database.db.select({ id: sales.id }).from(sales).where(gt(sales.endsAt, sql`NOW(3) - INTERVAL 1 DAY`));
    return [...new Set([...recent.map((r) => r.id), ...(await store.activeSales())])];
  }

  // Every DEEP_EVERY-th pass compares every sale in full (buyers Redis lost without a restart,
  // reservations that never became rows); the passes between only those whose cheap figures
  // disagree (fullPassReason), so a sale of 100,000 orders is not read whole every 30 s.
  const DEEP_EVERY = 10;
  let pass = 0;
  async function reconcileAll(): Promise<void> {
    const deep = pass++ % DEEP_EVERY === 0;
    for (const saleId of await runningSales()) {
      try {
        if (!deep) {
          const look = await reconciler.quickLook(saleId);
          const reason = look && fullPassReason(look);
          if (!reason) continue;
          log.info({ saleId, reason }, "periodic reconcile: the sale's figures disagree; comparing it in full");
        }
        await reconciler.reconcile(saleId);
      } catch (err) {
        log.error({ err, saleId }, "periodic reconcile failed for this sale; retrying next interval");
      }
    }
  }

  return {
    payments,
    expiry,
    relay,
    reconciler,
    reconcileAll,
    async start() {
      await guard.check();
      await payments.start();
      expiry.start();
      if (opts.relay !== false) relay.start();
      if (reconcileEvery > 0) loop = every(reconcileEvery, reconcileAll, (err) => log.error({ err }, "periodic reconcile failed"));
      const reopenEvery = opts.reopenIntervalMs ?? 1000;
      if (reopenEvery > 0)
        reopenLoop = every(reopenEvery, reopenBlocked, (err) => log.error({ err }, "looking for blocked sales failed; retrying"));
    },
    reopenBlocked,
    async stop() {
      guard.stop();
      await reopenLoop?.stop();
      await loop?.stop();
      await expiry.stop();
      await payments.stop();
      await relay.stop();
      await relayProducer.disconnect();
    },
  };
}

export type Lifecycle = ReturnType<typeof createLifecycle>;
