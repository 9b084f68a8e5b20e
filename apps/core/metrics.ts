import type { Hono } from "hono";
import { collectDefaultMetrics, Registry } from "prom-client";
import type { AppEnv } from "./http.js";

/**
 * One prom-client registry per process (not the global one, so tests can build many apps side
 * by side). Components register their own metrics on it; `/metrics` serves it.
 */
export function createRegistry(opts: { defaultMetrics?: boolean; labels?: Record<string, string> } = {}): Registry {
  const registry = new Registry();
  if (opts.labels) registry.setDefaultLabels(opts.labels);
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  return registry;
}

export function mountMetrics(app: Hono<AppEnv>, registry: Registry): void {
  app.get("/metrics", async (c) => c.body(await registry.metrics(), 200, { "Content-Type": registry.contentType }));
}
