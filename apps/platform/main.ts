import { createAdminApp } from "../admin/app.js";
import { createApiApp } from "../api/app.js";
import { bootstrap } from "../core/bootstrap.js";
import { listen } from "../core/serve.js";
import { onShutdown } from "../core/shutdown.js";
import { createGatewayApp } from "../gateway/app.js";

/**
 * `npm start`: the whole platform in one process on the embedded stack (Redis, MariaDB and the
 * Kafka mock, each reused or started as needed), with admin routes also under /admin on PORT.
 */
const startedAt = performance.now() - process.uptime() * 1000; // count from process start, imports included
const { config, logger, services, stack } = await bootstrap("seckill");

createApiApp({ services });
const admin = createAdminApp({ services });
const gateway = createGatewayApp({ services, admin });
const http = await listen(gateway, config.HOST, config.PORT);
const adminHttp = config.ADMIN_PORT ? await listen(admin, config.HOST, config.ADMIN_PORT) : undefined;

const base = `http://${config.HOST}:${http.port}`;
logger.info(
  {
    gateway: base,
    admin: adminHttp ? `http://${config.HOST}:${adminHttp.port}/admin` : `${base}/admin`,
    metrics: `${base}/metrics`,
    startupMs: Math.round(performance.now() - startedAt),
  },
  "ready",
);

onShutdown(logger, async () => {
  await http.close();
  await adminHttp?.close();
  await services.close();
  await stack.stop();
});
