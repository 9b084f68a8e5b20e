import { standaloneStack } from "../../infra/stack.js";
import { bootstrap } from "../core/bootstrap.js";
import { listenOps } from "../core/ops-server.js";
import { onShutdown } from "../core/shutdown.js";
import { createOrderWriter } from "./writer.js";

/** The order writer as its own process; PORT serves /healthz, /readyz and /metrics. */
const { logger, services, stack } = await bootstrap("seckill-order-writer", standaloneStack);
const writer = createOrderWriter(services);
await writer.start();
const http = await listenOps(services, ["mysql", "kafka"]);
logger.info({ metrics: `${http.url}/metrics` }, "ready");

onShutdown(logger, async () => {
  await writer.stop();
  await http.close();
  await services.close();
  await stack.stop();
});
