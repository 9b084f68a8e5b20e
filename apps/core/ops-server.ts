import type { Hono } from "hono";
import { mountHealth } from "./health.js";
import { type AppEnv, createHttpApp } from "./http.js";
import { mountMetrics } from "./metrics.js";
import { listen } from "./serve.js";
import { dependencyChecks, type Services } from "./services.js";

/**
 * The HTTP listener of a component that serves no public API of its own (order writer,
 * lifecycle worker, standalone admin): /healthz, /readyz over the dependencies it uses,
 * /metrics, plus any routes given.
 */
export async function listenOps(services: Services, checks: Parameters<typeof dependencyChecks>[1], routes?: Hono<AppEnv>) {
  const { config, logger } = services;
  const app = createHttpApp(logger);
  mountHealth(app, dependencyChecks(services, checks));
  mountMetrics(app, services.registry);
  if (routes) app.route("/", routes);
  const http = await listen(app, config.HOST, config.PORT);
  return { ...http, url: `http://${config.HOST}:${http.port}` };
}
