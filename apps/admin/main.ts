import { bootstrap } from "../core/bootstrap.js";
import { mountHealth } from "../core/health.js";
import { createHttpApp } from "../core/http.js";
import { listen } from "../core/serve.js";
import { dependencyChecks } from "../core/services.js";
import { onShutdown } from "../core/shutdown.js";
import { createAdminRoutes } from "./app.js";

/** The admin API on its own listener (keeps /admin off the public edge). */
const { config, logger, services, stack } = await bootstrap("seckill-admin");
const app = createHttpApp(logger);
mountHealth(app, dependencyChecks(services, ["redis", "mysql"]));
app.route("/", createAdminRoutes({ services }));
const http = await listen(app, config.HOST, config.PORT);
logger.info({ admin: `http://${config.HOST}:${http.port}/admin` }, "ready");

onShutdown(logger, async () => {
  await http.close();
  await services.close();
  await stack.stop();
});
