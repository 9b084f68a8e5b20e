import { standaloneStack } from "../../infra/stack.js";
import { bootstrap } from "../core/bootstrap.js";
import { forkHttpWorkers, isHttpWorker, workerCount, workerEnv } from "../core/cluster.js";
import { listenOpsPort } from "../core/ops-server.js";
import { httpOptions, listen } from "../core/serve.js";
import { onShutdown } from "../core/shutdown.js";
import { createGateway } from "./app.js";

/**
 * The gateway as its own process, forwarding to the API at API_URL over keep-alive HTTP. With
 * HTTP_WORKERS > 1 this process forks that many gateway workers sharing PORT.
 */
const { config, logger, services, stack } = await bootstrap(isHttpWorker ? "seckill-gateway-http" : "seckill-gateway", standaloneStack);
if (!config.API_URL) {
  logger.fatal("API_URL is required for a standalone gateway (or run everything in one process with npm start)");
  process.exit(1);
}
const workers = isHttpWorker ? 1 : workerCount(config.HTTP_WORKERS);
if (workers > 1) {
  const pool = forkHttpWorkers({ count: workers, env: workerEnv(config), logger, registry: services.registry });
  const port = await pool.ready;
  const ops = await listenOpsPort(services, ["redis"], pool.metrics);
  logger.info({ gateway: `http://${config.HOST}:${port}`, api: config.API_URL, httpWorkers: workers, ops: ops?.url }, "ready");
  onShutdown(logger, async () => {
    await pool.stop();
    await ops?.close();
    await services.close();
    await stack.stop();
  });
} else {
  const gateway = createGateway({ services });
  await gateway.start();
  const http = await listen(gateway.app, config.HOST, config.PORT, { ...httpOptions(config, logger), fastPath: gateway.fastPath });
  // Not in an HTTP worker: the primary serves OPS_PORT for every worker.
  const ops = isHttpWorker ? undefined : await listenOpsPort(services, ["redis"]);
  logger.info({ gateway: `http://${config.HOST}:${http.port}`, api: config.API_URL, ops: ops?.url }, "ready");
  onShutdown(logger, async () => {
    await http.close();
    await ops?.close();
    await gateway.stop();
    await services.close();
    await stack.stop();
  });
}
