import type { Hono } from "hono";
import { type Config, defaultSecretsInUse } from "../core/config.js";
import type { Database } from "../core/db/client.js";
import type { AppEnv } from "../core/http.js";
import type { Logger } from "../core/logger.js";
import { mountDevRoutes } from "./dev.js";
import { mountDocs } from "./docs.js";
import { createWebAssets, WEB_BASE, type WebAssets } from "./web-assets.js";

/** One reader of the built pages per process: the gateway and the admin routes share it. */
let shared: WebAssets | undefined;
export function webAssets(): WebAssets {
  shared ??= createWebAssets();
  return shared;
}

/**
 * The public port's pages: the storefront at `/` (static and cacheable: the page never changes
 * with the sale; its state comes from GET /api/sales/:id, cacheable for a second), its assets,
 * the API reference, and the development-only routes when NODE_ENV is not production and the
 * development JWT_SECRET and PAYMENT_WEBHOOK_SECRET are in use.
 */
export function mountSite(
  app: Hono<AppEnv>,
  deps: {
    config: Config;
    database: Database;
    logger: Logger;
    authenticate: (header: string | undefined) => Promise<string | null | undefined>;
  },
): void {
  // Only while the development secrets are in use (as the start-up banner prints a demo token):
  // with an operator's JWT_SECRET and PAYMENT_WEBHOOK_SECRET these routes would mint a user token
  // for anyone and sign "paid" callbacks, and NODE_ENV is easily left at its default.
  const devSecrets = defaultSecretsInUse(deps.config);
  const dev =
    deps.config.NODE_ENV !== "production" &&
    !deps.config.JWT_JWKS_URL &&
    devSecrets.includes("JWT_SECRET") &&
    devSecrets.includes("PAYMENT_WEBHOOK_SECRET");
  const web = webAssets();
  app.get("/", web.page("storefront/index.html", { cacheControl: "public, max-age=60" }));
  app.get(`${WEB_BASE}*`, web.assets());
  mountDocs(app, { dev });
  if (dev) mountDevRoutes(app, deps);
}
