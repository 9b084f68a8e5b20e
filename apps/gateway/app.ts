import type { Hono } from "hono";
import { mountHealth } from "../core/health.js";
import { type AppEnv, createHttpApp } from "../core/http.js";
import { mountMetrics } from "../core/metrics.js";
import { dependencyChecks, type Services } from "../core/services.js";

export interface GatewayDeps {
  services: Services;
  /** Admin routes served under /admin on the public port (one-process mode). */
  admin?: Hono<AppEnv>;
}

/** The edge: authentication, limits and the sold-out flag in front of the API. */
export function createGatewayApp({ services, admin }: GatewayDeps) {
  const app = createHttpApp(services.logger.child({ component: "gateway" }));
  mountHealth(app, dependencyChecks(services, ["redis"]));
  mountMetrics(app, services.registry);
  if (admin) app.route("/", admin);
  return app;
}
