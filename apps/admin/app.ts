import { Hono } from "hono";
import { BODY_LIMITS, limitBody } from "../core/body.js";
import type { AppEnv } from "../core/http.js";
import { type Services, sharedKafkaAdmin } from "../core/services.js";
import { createWaitingRoom } from "../domain/admission/waiting-room.js";
import { createReconciler } from "../domain/reconcile.js";
import { createRedisGuard } from "../domain/redis-guard.js";
import { createSaleStore } from "../domain/sale-store.js";
import { createStockHomes } from "../domain/stock-home.js";
import { type Authenticate, authenticatorFromConfig } from "../gateway/auth.js";
import { requireAdmin } from "./auth.js";
import { createConsoleSessions } from "./console-sessions.js";
import type { AdminContext } from "./context.js";
import { createDlqBrowser } from "./dlq.js";
import * as dlq from "./routes/dlq.get.js";
import * as getOrder from "./routes/orders.$orderId.get.js";
import * as orderHistory from "./routes/orders.$orderId.history.get.js";
import * as replayEvents from "./routes/sales.$id.events.replay.post.js";
import * as live from "./routes/sales.$id.live.get.js";
import * as moveStockHome from "./routes/sales.$id.move-stock-home.post.js";
import * as patchSale from "./routes/sales.$id.patch.js";
import * as preload from "./routes/sales.$id.preload.post.js";
import * as reconcile from "./routes/sales.$id.reconcile.post.js";
import * as stats from "./routes/sales.$id.stats.get.js";
import * as listSales from "./routes/sales.get.js";
import * as createSale from "./routes/sales.post.js";
import * as session from "./routes/session.js";
import { createSignInLimiter } from "./sign-in-limiter.js";

/**
 * The admin API under /admin (bearer ADMIN_TOKEN). Only routes: it is mounted on the public app
 * in one-process mode, or served by apps/admin/main.ts on its own listener.
 */
export function createAdminRoutes({ services, authenticate }: { services: Services; authenticate?: Authenticate }): Hono<AppEnv> {
  const { redis, config, logger } = services;
  const store = createSaleStore(redis, config.REDIS_KEY_PREFIX);
  const sessions = createConsoleSessions({ redis, prefix: config.REDIS_KEY_PREFIX, adminToken: config.ADMIN_TOKEN, logger });
  const ctx: AdminContext = {
    services,
    store,
    reconciler: createReconciler({ services, store, kafkaAdmin: sharedKafkaAdmin(services) }),
    guard: createRedisGuard({ redis: services.redis, store, logger: services.logger }),
    stockHomes: createStockHomes({ db: services.database.db, redis: services.redis, prefix: services.config.REDIS_KEY_PREFIX }),
    room: createWaitingRoom(services.redis, services.config.REDIS_KEY_PREFIX),
    dlq: createDlqBrowser(services),
    sessions,
    signInLimiter: createSignInLimiter({ redis, prefix: config.REDIS_KEY_PREFIX }),
  };
  const app = new Hono<AppEnv>();
  const users = authenticate ?? authenticatorFromConfig(config, logger);
  session.register(app, ctx); // the console page and sign-in come before the guard (sign-in limits its own body)
  app.use("/admin/*", requireAdmin({ adminToken: config.ADMIN_TOKEN, authenticateUser: users, sessions }));
  // After the token check: a caller without the token never gets its body read at all.
  app.use("/admin/*", limitBody(BODY_LIMITS.admin));
  listSales.register(app, ctx);
  createSale.register(app, ctx);
  patchSale.register(app, ctx);
  preload.register(app, ctx);
  moveStockHome.register(app, ctx);
  stats.register(app, ctx);
  live.register(app, ctx);
  reconcile.register(app, ctx);
  getOrder.register(app, ctx);
  orderHistory.register(app, ctx);
  dlq.register(app, ctx);
  replayEvents.register(app, ctx);
  return app;
}
