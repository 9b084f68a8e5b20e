import { createAdminRoutes } from "../admin/app.js";
import { createApi } from "../api/app.js";
import { bootstrap } from "../core/bootstrap.js";
import { listen } from "../core/serve.js";
import { onShutdown } from "../core/shutdown.js";
import { createGateway } from "../gateway/app.js";
import { createLifecycle } from "../lifecycle/worker.js";
import { createOrderWriter } from "../order-writer/writer.js";
import { seedDemoSale } from "./demo.js";

/**
 * `npm start`: the whole platform in one process on the embedded stack (Redis, MariaDB and the
 * Kafka mock, each reused or started as needed): gateway calling the API in-process, the order
 * writer, the lifecycle worker (payments, expiry, reconcile), admin routes under /admin on PORT,
 * and a demo sale.
 */
const startedAt = performance.now() - process.uptime() * 1000; // count from process start, imports included
const { config, logger, services, stack } = await bootstrap("seckill");

const api = createApi({ services });
const admin = createAdminRoutes({ services });
const gateway = createGateway({ services, apiFetch: api.app.fetch, admin });
const writer = createOrderWriter(services);
const lifecycle = createLifecycle(services);
await Promise.all([api.start(), gateway.start(), writer.start(), lifecycle.start()]);
const http = await listen(gateway.app, config.HOST, config.PORT);
const adminHttp = config.ADMIN_PORT ? await listen(admin, config.HOST, config.ADMIN_PORT) : undefined;

const base = `http://${config.HOST}:${http.port}`;
const demo = await seedDemoSale(admin, config);
logger.info(
  {
    gateway: base,
    admin: adminHttp ? `http://${config.HOST}:${adminHttp.port}/admin` : `${base}/admin`,
    metrics: `${base}/metrics`,
    demoSale: `${base}/api/sales/${demo.saleId}`,
    startupMs: Math.round(performance.now() - startedAt),
  },
  "ready",
);
process.stdout.write(
  `\nReady. Buy the demo item:\n` +
    `  TOKEN=${demo.userToken}\n` +
    `  curl -s ${base}/api/sales/${demo.saleId}\n` +
    `  curl -s -X POST -H "Authorization: Bearer $TOKEN" ${base}/api/sales/${demo.saleId}/orders\n` +
    `  curl -s -H "Authorization: Bearer $TOKEN" ${base}/api/orders/<orderId>\n` +
    `  npm run pay -- <orderId>            # the provider's signed callback: the order becomes paid\n` +
    `  curl -s -H "Authorization: Bearer ${config.ADMIN_TOKEN}" ${base}/admin/sales/${demo.saleId}/stats\n\n`,
);

onShutdown(logger, async () => {
  await http.close();
  await adminHttp?.close();
  await gateway.stop();
  await api.stop(); // flushes accepted orders to Kafka; anything left waits in Redis for the relay
  await writer.stop(); // finishes the batches in hand and commits their offsets
  await lifecycle.stop();
  await services.close();
  await stack.stop();
});
