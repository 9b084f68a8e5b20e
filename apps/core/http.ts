import { Hono } from "hono";
import { requestId } from "hono/request-id";
import { errorHandler, errorResponse } from "./errors.js";
import type { Logger } from "./logger.js";

export type AppEnv = { Variables: { requestId: string; userId: string } };

/**
 * The base every HTTP app starts from: a request id, one log line per request with its outcome
 * and duration, the uniform error body, and 404 for unknown routes.
 */
export function createHttpApp(logger: Logger): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use(requestId());
  app.use(async (c, next) => {
    const started = performance.now();
    await next();
    const status = c.res.status;
    const fields = {
      requestId: c.get("requestId"),
      method: c.req.method,
      path: c.req.path,
      status,
      ms: Math.round((performance.now() - started) * 10) / 10,
    };
    if (status >= 500) logger.warn(fields, "request failed");
    else logger.debug(fields, "request");
  });
  app.onError(errorHandler(logger));
  app.notFound((c) => errorResponse(c, "not_found", `no route for ${c.req.method} ${c.req.path}`));
  return app;
}
