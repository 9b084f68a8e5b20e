import { bootstrap } from "../core/bootstrap.js";
import { mountHealth } from "../core/health.js";
import { createHttpApp } from "../core/http.js";
import { mountMetrics } from "../core/metrics.js";
import { listen } from "../core/serve.js";
import { dependencyChecks } from "../core/services.js";
import { onShutdown } from "../core/shutdown.js";
import { createOrderWriter } from "./writer.js";

/** The order writer as its own process; PORT serves /healthz, /readyz and /metrics. */
const { config, logger, services, stack } = await bootstrap("seckill-order-writer");
const writer = createOrderWriter(services);
await writer.start();
const app = createHttpApp(logger);
mountHealth(app, dependencyChecks(services, ["mysql", "kafka"]));
mountMetrics(app, services.registry);
const http = await listen(app, config.HOST, config.PORT);
logger.info({ metrics: `http://${config.HOST}:${http.port}/metrics` }, "ready");

onShutdown(logger, async () => {
  await writer.stop();
  await http.close();
  await services.close();
  await stack.stop();
});
