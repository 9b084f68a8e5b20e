import { startStack } from "../../infra/stack.js";
import { createAdminRoutes } from "../admin/app.js";
import { bootstrap } from "../core/bootstrap.js";
import { forkHttpWorkers, isHttpWorker, workerCount, workerEnv } from "../core/cluster.js";
import { listenOpsPort } from "../core/ops-server.js";
import { httpOptions, listen } from "../core/serve.js";
import { onShutdown } from "../core/shutdown.js";
import { createLifecycle } from "../lifecycle/worker.js";
import { startLoyalty } from "../loyalty/start.js";
import { createOrderWriter } from "../order-writer/writer.js";
import { readyBanner } from "./banner.js";
import { seedDemoSale } from "./demo.js";
import { startEdge } from "./edge.js";

/**
 * `npm start`: the whole platform on the embedded stack (Redis, MariaDB and the Kafka mock, each
 * reused or started as needed): gateway calling the API in-process, the order writer, the
 * lifecycle worker (payments, expiry, reconcile, the order-events relay), the loyalty ledger
 * (reference consumer of seckill.order-events), admin routes under /admin on PORT, and a demo
 * sale. With HTTP_WORKERS > 1 the gateway + API run in that many worker processes sharing PORT
 * and this process keeps the rest.
 */
const startedAt = performance.now() - process.uptime() * 1000; // count from process start, imports included
const { config, logger, services, stack } = await bootstrap(isHttpWorker ? "seckill-http" : "seckill", startStack);

if (isHttpWorker) {
  const edge = await startEdge(services);
  onShutdown(logger, async () => {
    await edge.stop();
    await services.close();
  });
} else {
  // Ctrl-C during start-up waits for it to finish, then drains like any other stop: the edge
  // already answers purchases before the writer and the demo sale are up.
  const startup = (async () => {
    const workers = workerCount(config.HTTP_WORKERS);
    const edge: { port: number; stop(): Promise<void>; metrics?: () => Promise<string> } =
      workers === 1
        ? await startEdge(services)
        : await (async () => {
            const pool = forkHttpWorkers({ count: workers, env: workerEnv(config), logger, registry: services.registry });
            return { port: await pool.ready, stop: () => pool.stop(), metrics: pool.metrics };
          })();
    const ops = await listenOpsPort(services, ["redis", "mysql", "kafka"], edge.metrics);
    const admin = createAdminRoutes({ services });
    const writer = createOrderWriter(services);
    const lifecycle = createLifecycle(services);
    // Not awaited before "ready": a consumer's first join of its group waits out the broker's
    // group.initial.rebalance.delay.ms (3 s by default, and in the mock), and buying does not
    // need the writer: accepted orders wait in Kafka meanwhile. A failure here still ends the
    // start-up (below), as before. The loyalty ledger is the reference consumer of
    // seckill.order-events, so the events are seen end to end.
    const loyalty = config.LOYALTY_CONSUMER === "true" ? startLoyalty(services) : Promise.resolve(undefined);
    const consumers = Promise.all([writer.start(), lifecycle.start(), loyalty]);
    consumers.catch(() => {});
    const adminHttp = config.ADMIN_PORT ? await listen(admin, config.HOST, config.ADMIN_PORT, httpOptions(config, logger)) : undefined;

    const base = `http://${config.HOST}:${edge.port}`;
    const demo = await seedDemoSale(admin, config);
    logger.info(
      {
        gateway: base,
        httpWorkers: workers,
        admin: adminHttp ? `http://${config.HOST}:${adminHttp.port}/admin` : `${base}/admin`,
        metrics: ops ? `${ops.url}/metrics` : `${base}/metrics (with the admin token)`,
        storefront: `${base}/?sale=${demo.saleId}`,
        console: `${base}/admin/console`,
        apiReference: `${base}/docs`,
        demoSale: `${base}/api/sales/${demo.saleId}`,
        startupMs: Math.round(performance.now() - startedAt),
      },
      "ready",
    );
    process.stdout.write(
      (await readyBanner(config, base, demo.saleId)) +
        `Pages:\n  storefront     ${base}/?sale=${demo.saleId}\n  admin console  ${base}/admin/console\n  API reference  ${base}/docs\n\n`,
    );
    const t = performance.now();
    consumers.then(
      () => logger.info({ joinMs: Math.round(performance.now() - t) }, "order writer, lifecycle and loyalty consumers joined their groups"),
      (err) => {
        logger.fatal({ err }, "the order writer, the lifecycle worker or the loyalty ledger could not start; stopping");
        process.kill(process.pid, "SIGTERM");
      },
    );
    return { edge, adminHttp, ops, writer, lifecycle, consumers, loyalty };
  })();
  onShutdown(logger, async () => {
    const { edge, adminHttp, ops, writer, lifecycle, consumers, loyalty } = await startup;
    await consumers.catch(() => {});
    await edge.stop();
    await adminHttp?.close();
    await ops?.close();
    await writer.stop(); // finishes the batches in hand and commits their offsets
    await lifecycle.stop();
    await (await loyalty.catch(() => undefined))?.stop();
    await services.close();
    await stack.stop();
  });
  await startup;
}
