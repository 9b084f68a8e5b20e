import { mountHealth } from "../core/health.js";
import { createHttpApp } from "../core/http.js";
import { dependencyChecks, type Services } from "../core/services.js";

export interface AdminDeps {
  services: Services;
}

/** The admin API (bearer ADMIN_TOKEN): sales, preload, stats, reconcile. */
export function createAdminApp({ services }: AdminDeps) {
  const app = createHttpApp(services.logger.child({ component: "admin" }));
  mountHealth(app, dependencyChecks(services));
  return app;
}
