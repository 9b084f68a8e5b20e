import { standaloneStack } from "../../infra/stack.js";
import { bootstrap } from "../core/bootstrap.js";
import { listenOpsPort } from "../core/ops-server.js";
import { httpOptions, listen } from "../core/serve.js";
import { onShutdown } from "../core/shutdown.js";
import { createApi } from "./app.js";

/** The seckill API as its own process (a gateway reaches it through API_URL). */
const { config, logger, services, stack } = await bootstrap("seckill-api", standaloneStack);
const api = createApi({ services });
await api.start();
const http = await listen(api.app, config.HOST, config.PORT, httpOptions(config, logger));
const ops = await listenOpsPort(services, ["redis", "mysql", "kafka"]);
logger.info({ api: `http://${config.HOST}:${http.port}`, ops: ops?.url }, "ready");

onShutdown(logger, async () => {
  await http.close();
  await ops?.close();
  await api.stop();
  await services.close();
  await stack.stop();
});
