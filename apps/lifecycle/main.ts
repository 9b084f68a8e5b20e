import { bootstrap } from "../core/bootstrap.js";
import { mountHealth } from "../core/health.js";
import { createHttpApp } from "../core/http.js";
import { mountMetrics } from "../core/metrics.js";
import { listen } from "../core/serve.js";
import { dependencyChecks } from "../core/services.js";
import { onShutdown } from "../core/shutdown.js";
import { createLifecycle } from "./worker.js";

/** Payments, expiry and periodic reconcile as their own process; PORT serves health and metrics. */
const { config, logger, services, stack } = await bootstrap("seckill-lifecycle");
const lifecycle = createLifecycle(services);
await lifecycle.start();
const app = createHttpApp(logger);
mountHealth(app, dependencyChecks(services));
mountMetrics(app, services.registry);
const http = await listen(app, config.HOST, config.PORT);
logger.info({ metrics: `http://${config.HOST}:${http.port}/metrics` }, "ready");

onShutdown(logger, async () => {
  await lifecycle.stop();
  await http.close();
  await services.close();
  await stack.stop();
});
