import { BODY_LIMITS, limitBody } from "../core/body.js";
import { mountHealth } from "../core/health.js";
import { createHttpApp } from "../core/http.js";
import { connectedProducer, createProducer } from "../core/kafka.js";
import { mountMetrics } from "../core/metrics.js";
import { createRedisPool } from "../core/redis.js";
import { dependencyChecks, type Services } from "../core/services.js";
import { createSubscriber } from "../core/subscriber.js";
import { createAdmitter } from "../domain/admission/admitter.js";
import { createAdmission } from "../domain/admission/index.js";
import { createRedisGuard } from "../domain/redis-guard.js";
import { createSaleCache } from "../domain/sale-cache.js";
import { watchSaleChanges } from "../domain/sale-changes.js";
import { createSaleStore } from "../domain/sale-store.js";
import type { ApiContext } from "./context.js";
import { createHandoff, type HandoffOptions } from "./handoff.js";
import * as getOrder from "./routes/orders.$orderId.get.js";
import * as paymentsCallback from "./routes/payments.callback.post.js";
import * as getChallenge from "./routes/sales.$saleId.challenge.get.js";
import * as getSale from "./routes/sales.$saleId.get.js";
import * as postOrder from "./routes/sales.$saleId.orders.post.js";
import * as postPass from "./routes/sales.$saleId.pass.post.js";
import * as getQueue from "./routes/sales.$saleId.queue.get.js";
import * as postQueue from "./routes/sales.$saleId.queue.post.js";

export interface ApiDeps {
  services: Services;
  handoff?: HandoffOptions;
  /** The waiting rooms' admission tick; default ADMISSION_TICK_MS (tests that watch Redis turn it down). */
  admitTickMs?: number;
}

/**
 * The seckill API: reserve (202 + order id), order status, sale info. `start` connects the
 * Kafka producer, starts the handoff relay and listens for the sale-changed broadcast (which
 * drops this process's copy of a changed sale); `stop` flushes the handoff.
 */
export function createApi({ services, handoff: handoffOptions, admitTickMs }: ApiDeps) {
  const { config, redis, database, kafka, topics, metrics, logger } = services;
  const pool = createRedisPool(redis, config.REDIS_RESERVE_CONNECTIONS);
  const store = createSaleStore(redis, config.REDIS_KEY_PREFIX, { reserveVia: pool.clients });
  const saleCache = createSaleCache({ db: database.db, store });
  const subscriber = createSubscriber(redis, logger.child({ component: "api" }));
  watchSaleChanges({ subscriber, store, onChange: saleCache.forget, onReconnect: saleCache.forgetAll });
  const producer = connectedProducer(createProducer(kafka));
  const handoff = createHandoff({ producer, store, topics, metrics, logger }, handoffOptions);
  const guard = createRedisGuard({ redis, watch: pool.clients, store, logger });
  const admission = createAdmission(redis, config.REDIS_KEY_PREFIX, config.JWT_SECRET);
  const admitter = createAdmitter(
    { room: admission.room, saleCache, stock: store, metrics, logger },
    { tickMs: admitTickMs ?? config.ADMISSION_TICK_MS },
  );
  const ctx: ApiContext = { services, store, saleCache, handoff, guard, admission };

  const app = createHttpApp(logger.child({ component: "api" }));
  mountHealth(app, dependencyChecks(services));
  mountMetrics(app, services.registry, { adminToken: config.ADMIN_TOKEN });
  getSale.register(app, ctx);
  const purchase = postOrder.createPurchase(ctx);
  postOrder.register(app, ctx, purchase);
  getOrder.register(app, ctx);
  getChallenge.register(app, ctx);
  // The admission calls read their body with c.req.text(): held to 4 KiB first. (The purchase
  // and the callback read theirs under their own limits; no extra layer on the hot path.)
  app.use("/api/sales/:saleId/pass", limitBody(BODY_LIMITS.queue));
  app.use("/api/sales/:saleId/queue", limitBody(BODY_LIMITS.queue));
  postPass.register(app, ctx);
  postQueue.register(app, ctx);
  getQueue.register(app, ctx);
  paymentsCallback.register(app, ctx, producer);

  return {
    app,
    ctx,
    /** The purchase behind POST /api/sales/:saleId/orders, for a gateway in this process (see the route). */
    purchase,
    admitter,
    start: async () => {
      await guard.check();
      await subscriber.start();
      await handoff.start();
      admitter.start();
    },
    stop: async () => {
      subscriber.stop();
      await admitter.stop();
      guard.stop();
      await handoff.stop();
      await pool.close();
    },
  };
}

export type Api = ReturnType<typeof createApi>;
