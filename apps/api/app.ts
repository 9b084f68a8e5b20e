import { mountHealth } from "../core/health.js";
import { createHttpApp } from "../core/http.js";
import { mountMetrics } from "../core/metrics.js";
import { dependencyChecks, type Services } from "../core/services.js";

export interface ApiDeps {
  services: Services;
}

/** The seckill API: reserve, order status, sale info. */
export function createApiApp({ services }: ApiDeps) {
  const app = createHttpApp(services.logger.child({ component: "api" }));
  mountHealth(app, dependencyChecks(services));
  mountMetrics(app, services.registry);
  return app;
}
