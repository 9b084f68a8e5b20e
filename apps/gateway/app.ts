import type { Hono } from "hono";
import { cors } from "hono/cors";
import { RateLimiterMemory } from "rate-limiter-flexible";
import { BODY_LIMITS, readBody } from "../core/body.js";
import { mountHealth } from "../core/health.js";
import { type AppEnv, createHttpApp, requestHeader } from "../core/http.js";
import { mountMetrics } from "../core/metrics.js";
import { dependencyChecks, type Services } from "../core/services.js";
import { createSubscriber } from "../core/subscriber.js";
import { tracing } from "../core/tracing.js";
import { createPasses } from "../domain/admission/pass.js";
import type { Purchase } from "../domain/purchase-request.js";
import { createSaleCache } from "../domain/sale-cache.js";
import { watchSaleChanges } from "../domain/sale-changes.js";
import { createSaleStore } from "../domain/sale-store.js";
import { mountSite } from "../site/mount.js";
import { type Authenticate, authenticatorFromConfig } from "./auth.js";
import { createForward } from "./forward.js";
import { createRecentHolders } from "./holders.js";
import { createQueueLimiter, createUserLimiter } from "./limiter.js";
import { purchaseOutcomes } from "./purchase-outcomes.js";
import * as purchase from "./routes/sales.$saleId.orders.post.js";
import * as queue from "./routes/sales.$saleId.queue.js";
import { createSoldOutFlags } from "./sold-out.js";
import { soldOutFastPath } from "./sold-out-fast-path.js";

export interface GatewayDeps {
  services: Services;
  /** The API's fetch handler when co-hosted; otherwise config.API_URL is used. */
  apiFetch?: (req: Request) => Response | Promise<Response>;
  /** The co-hosted API's purchase: called directly instead of through apiFetch (not with tracing on, whose spans follow the HTTP hop). */
  apiPurchase?: Purchase;
  /** Admin routes served under /admin on the public port (one-process mode). */
  admin?: Hono<AppEnv>;
  soldOutRefreshMs?: number;
  /** How user tokens are verified; default: as the config says (authenticatorFromConfig). */
  authenticate?: Authenticate;
}

/** The edge: authentication, limits and the sold-out flag in front of the API. */
export function createGateway({ services, apiFetch, apiPurchase, admin, soldOutRefreshMs, authenticate: given }: GatewayDeps) {
  const { config, redis, database, metrics, logger } = services;
  const store = createSaleStore(redis, config.REDIS_KEY_PREFIX);
  const saleCache = createSaleCache({ db: database.db, store });
  // One subscribed connection for every broadcast the gateway hears (sold-out, restock, sale changed).
  const subscriber = createSubscriber(redis, logger.child({ component: "gateway" }));
  watchSaleChanges({ subscriber, store, onChange: saleCache.forget, onReconnect: saleCache.forgetAll });
  const authenticate = given ?? authenticatorFromConfig(config, logger.child({ component: "auth" }));
  const forward = createForward({
    apiFetch,
    apiUrl: config.API_URL,
    jwtSecret: config.JWT_SECRET,
    logger: logger.child({ component: "gateway" }),
  });
  const holders = createRecentHolders();
  const soldOut = createSoldOutFlags(
    { subscriber, store, logger },
    { refreshMs: soldOutRefreshMs, onRestock: (saleId) => holders.forget(saleId) },
  );
  const limit = createUserLimiter({
    redis,
    keyPrefix: store.rateLimitPrefix,
    perSec: config.RATE_LIMIT_PER_SEC,
    burst: config.RATE_LIMIT_BURST,
    logger,
  });

  const app = createHttpApp(logger.child({ component: "gateway" }));
  mountHealth(app, dependencyChecks(services, ["redis"]));
  mountMetrics(app, services.registry, { adminToken: config.ADMIN_TOKEN });
  const exposeHeaders = ["Retry-After", "X-Request-Id"];
  if (config.CORS_ORIGINS.length > 0) {
    // Browsers on the shop's own origins may call the user routes. Registered before every
    // route, so a preflight is answered here, from memory: no token, no Redis. Never on /admin
    // or the payment callback (a server-to-server call).
    const browsers = cors({
      origin: config.CORS_ORIGINS,
      allowMethods: ["GET", "POST"],
      allowHeaders: ["Authorization", "Content-Type", "Idempotency-Key", "X-Purchase-Pass", "X-Request-Id"],
      exposeHeaders,
      maxAge: config.CORS_MAX_AGE_SECONDS,
    });
    app.use("/api/sales/*", browsers);
    app.use("/api/orders/*", browsers);
  }
  const outcomes = purchaseOutcomes({ registry: services.registry, isKnownSale: (id) => !!saleCache.peek(id) || soldOut.isSoldOut(id) });
  app.use("/api/sales/:saleId/orders", outcomes.middleware);
  const unauthenticated = new RateLimiterMemory({ points: config.UNAUTHENTICATED_PER_IP_PER_SEC, duration: 1 });
  const route = purchase.register(app, {
    authenticate,
    limitUnauthenticated: (ip) =>
      unauthenticated.consume(ip).then(
        () => ({ ok: true }) as const,
        (rej: { msBeforeNext?: number }) => ({ ok: false, retryAfterMs: rej.msBeforeNext ?? 1000 }) as const,
      ),
    trustedProxyHops: config.TRUSTED_PROXY_HOPS,
    limit,
    soldOut,
    holders,
    saleCache,
    passes: createPasses(config.JWT_SECRET),
    forward,
    metrics,
    maxInFlight: config.MAX_INFLIGHT_PURCHASES,
    foreground: services.foreground,
    purchase: tracing() ? undefined : apiPurchase,
  });

  queue.register(app, {
    authenticate,
    limit: createQueueLimiter({ redis, keyPrefix: store.rateLimitPrefix, perSec: config.QUEUE_RATE_LIMIT_PER_SEC, logger }),
    forward,
    countRefusal: (call) => metrics.admissionRequests.inc({ call, outcome: "rate_limited" }),
  });

  // API reference, storefront and (outside production) the development routes; before the catch-all below.
  mountSite(app, { config, database, logger, authenticate });
  // Everything else under /api goes to the API, its body read under its route's limit; the user
  // id is passed on when a valid token came with it.
  app.all("/api/*", async (c) => {
    const method = c.req.method;
    const body =
      method === "GET" || method === "HEAD"
        ? undefined
        : await readBody(c, c.req.path === "/api/payments/callback" ? BODY_LIMITS.callback : BODY_LIMITS.queue);
    return forward(
      c.req.raw,
      await authenticate(requestHeader(c, "authorization")),
      c.get("requestId"),
      (name) => requestHeader(c, name),
      body,
    );
  });
  if (admin) app.route("/", admin);

  // Not with tracing on (every request gets a span) nor at debug level (every request gets a log line).
  const fastPath =
    tracing() || logger.isLevelEnabled("debug")
      ? undefined
      : soldOutFastPath({
          isSoldOut: soldOut.isSoldOut,
          countRejection: purchase.rejectionCounter(metrics),
          record: outcomes.record,
          // What hono/cors adds to an answer to a request without an Origin (those with one go to Hono).
          corsHeaders:
            config.CORS_ORIGINS.length > 0 ? { vary: "Origin", "access-control-expose-headers": exposeHeaders.join(",") } : undefined,
          overloaded: route.overloaded,
          logger: logger.child({ component: "gateway" }),
        });

  return {
    app,
    /** Pass to listen(): answers purchases of sold-out sales before Hono (sold-out-fast-path.ts). */
    fastPath,
    soldOut,
    holders,
    start: async () => {
      soldOut.start();
      await Promise.all([subscriber.start(), authenticate.start()]);
    },
    stop: async () => {
      authenticate.stop();
      subscriber.stop();
      await soldOut.stop();
    },
  };
}

export type Gateway = ReturnType<typeof createGateway>;
