import { bootstrap } from "../core/bootstrap.js";
import { listen } from "../core/serve.js";
import { onShutdown } from "../core/shutdown.js";
import { createGateway } from "./app.js";

/** The gateway as its own process, forwarding to the API at API_URL over keep-alive HTTP. */
const { config, logger, services, stack } = await bootstrap("seckill-gateway");
if (!config.API_URL) {
  logger.fatal("API_URL is required for a standalone gateway (or run everything in one process with npm start)");
  process.exit(1);
}
const gateway = createGateway({ services });
await gateway.start();
const http = await listen(gateway.app, config.HOST, config.PORT);
logger.info({ gateway: `http://${config.HOST}:${http.port}`, api: config.API_URL }, "ready");

onShutdown(logger, async () => {
  await http.close();
  await gateway.stop();
  await services.close();
  await stack.stop();
});
