import { createAdminRoutes } from "../admin/app.js";
import { createApi } from "../api/app.js";
import { httpOptions, listen } from "../core/serve.js";
import type { Services } from "../core/services.js";
import { createGateway } from "../gateway/app.js";

/**
 * The public HTTP side of the one-process platform: the gateway calling the API in-process,
 * with the admin routes under /admin. Runs in the process itself, or in each HTTP worker when
 * HTTP_WORKERS > 1.
 */
export async function startEdge(services: Services) {
  const { config } = services;
  const api = createApi({ services });
  const gateway = createGateway({ services, apiFetch: api.app.fetch, apiPurchase: api.purchase, admin: createAdminRoutes({ services }) });
  await Promise.all([api.start(), gateway.start()]);
  const http = await listen(gateway.app, config.HOST, config.PORT, { ...httpOptions(config, services.logger), fastPath: gateway.fastPath });
  return {
    port: http.port,
    async stop() {
      await http.close();
      await gateway.stop();
      await api.stop(); // flushes accepted orders to Kafka; anything left waits in Redis for the relay
    },
  };
}
