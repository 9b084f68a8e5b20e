import type { Hono } from "hono";
import type { Config } from "../core/config.js";
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
 * the API reference, and the development-only routes when NODE_ENV is not production.
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
  const dev = deps.config.NODE_ENV !== "production";
  const web = webAssets();
  app.get("/", web.page("storefront/index.html", { cacheControl: "public, max-age=60" }));
  app.get(`${WEB_BASE}*`, web.assets());
  mountDocs(app, { dev });
  if (dev) mountDevRoutes(app, deps);
}
