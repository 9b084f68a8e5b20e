import { standaloneStack } from "../../infra/stack.js";
import { bootstrap } from "../core/bootstrap.js";
import { listenOps } from "../core/ops-server.js";
import { onShutdown } from "../core/shutdown.js";
import { startLoyalty } from "./start.js";

/** The loyalty ledger (reference consumer of seckill.order-events) as its own process; PORT serves health and metrics. */
const { logger, services, stack } = await bootstrap("seckill-loyalty", standaloneStack);
const loyalty = await startLoyalty(services);
const http = await listenOps(services, ["mysql", "kafka"]);
logger.info({ metrics: `${http.url}/metrics` }, "ready");

onShutdown(logger, async () => {
  await loyalty.stop();
  await http.close();
  await services.close();
  await stack.stop();
});
