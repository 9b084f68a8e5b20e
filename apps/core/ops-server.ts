import type { Hono } from "hono";
import { mountHealth } from "./health.js";
import { type AppEnv, createHttpApp } from "./http.js";
import { mountMetrics } from "./metrics.js";
import { httpOptions, listen } from "./serve.js";
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
  const http = await listen(app, config.HOST, config.PORT, httpOptions(config, logger));
  return { ...http, url: `http://${config.HOST}:${http.port}` };
}

/**
 * The OPS_PORT listener of a component with a public port (npm start, gateway, API): /metrics
 * without auth (the public port serves it only with the admin token), /healthz and /readyz.
 * Keep OPS_PORT reachable from the monitoring network only. Undefined when OPS_PORT is unset.
 * `metrics` replaces this process's own figures (the primary's sum over its HTTP workers).
 */
export async function listenOpsPort(services: Services, checks: Parameters<typeof dependencyChecks>[1], metrics?: () => Promise<string>) {
  const { config, logger } = services;
  if (config.OPS_PORT === undefined) return undefined;
  const app = createHttpApp(logger);
  mountHealth(app, dependencyChecks(services, checks));
  mountMetrics(app, services.registry, { source: metrics });
  const http = await listen(app, config.HOST, config.OPS_PORT, httpOptions(config, logger));
  return { ...http, url: `http://${config.HOST}:${http.port}` };
}
