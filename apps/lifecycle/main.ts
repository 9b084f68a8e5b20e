import { standaloneStack } from "../../infra/stack.js";
import { bootstrap } from "../core/bootstrap.js";
import { listenOps } from "../core/ops-server.js";
import { onShutdown } from "../core/shutdown.js";
import { createLifecycle } from "./worker.js";

/** Payments, expiry, periodic reconcile and the order-events relay as their own process; PORT serves health and metrics. */
const { logger, services, stack } = await bootstrap("seckill-lifecycle", standaloneStack);
const lifecycle = createLifecycle(services);
await lifecycle.start();
const http = await listenOps(services, ["redis", "mysql", "kafka"]);
logger.info({ metrics: `${http.url}/metrics` }, "ready");

onShutdown(logger, async () => {
  await lifecycle.stop();
  await http.close();
  await services.close();
  await stack.stop();
});
