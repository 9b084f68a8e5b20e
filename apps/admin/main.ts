import { standaloneStack } from "../../infra/stack.js";
import { bootstrap } from "../core/bootstrap.js";
import { listenOps } from "../core/ops-server.js";
import { onShutdown } from "../core/shutdown.js";
import { createAdminRoutes } from "./app.js";

/** The admin API on its own listener (keeps /admin off the public edge). */
const { logger, services, stack } = await bootstrap("seckill-admin", standaloneStack);
const http = await listenOps(services, ["redis", "mysql"], createAdminRoutes({ services }));
logger.info({ admin: `${http.url}/admin` }, "ready");

onShutdown(logger, async () => {
  await http.close();
  await services.close();
  await stack.stop();
});
