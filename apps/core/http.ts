import type { IncomingMessage } from "node:http";
import { type Context, Hono, type MiddlewareHandler } from "hono";
import { routePath } from "hono/route";
import { errorHandler, errorResponse } from "./errors.js";
import type { Logger } from "./logger.js";
import { type Tracing, tracing } from "./tracing.js";

export type AppEnv = { Variables: { requestId: string; userId: string } };

/**
 * A request header, read from Node's own IncomingMessage when the request came over a socket.
 * c.req.header() makes @hono/node-server build a WHATWG Headers object from every raw header,
 * which costs more than the rest of the gateway's 410 path; in-process requests (the API behind
 * a co-hosted gateway, app.request in tests) have no IncomingMessage and go the usual way.
 * Names must be lower case.
 */
export function requestHeader(c: Context, name: string): string | undefined {
  const incoming = incomingOf(c);
  if (!incoming) return c.req.header(name);
  const v = incoming.headers[name];
  return Array.isArray(v) ? v.join(", ") : v;
}

/** Node's IncomingMessage behind a request that came over a socket (@hono/node-server's env). */
export function incomingOf(c: Context): IncomingMessage | undefined {
  return (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
}

const SAFE_REQUEST_ID = /^[\w\-=]{1,255}$/;

/** A request's id: the caller's X-Request-Id when it is safe to echo (1-255 of [A-Za-z0-9_=-]), else a new UUID. */
export function requestIdFor(given: string | undefined): string {
  return given !== undefined && SAFE_REQUEST_ID.test(given) ? given : crypto.randomUUID();
}

/**
 * The base every HTTP app starts from: a request id, one log line per request with its outcome
 * and duration, the uniform error body, and 404 for unknown routes.
 *
 * The request id is the caller's X-Request-Id when it is safe to echo (the gateway passes its
 * own to the API), else a new UUID; answers built with respond.ts's json() return it. Not
 * hono/request-id: it sets the header up front, which turns every answer into a full Headers
 * object, measurably slower at the peak. Id and log line share one middleware: each layer of
 * Hono's compose is another promise per request.
 */
export function createHttpApp(logger: Logger): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const debug = logger.isLevelEnabled("debug");
  // Decided once per app: with tracing off, no middleware at all (not even a check per request).
  const t = tracing();
  if (t) app.use(serverSpans(t));
  app.use(async (c, next) => {
    const started = performance.now();
    c.set("requestId", requestIdFor(requestHeader(c, "x-request-id")));
    await next();
    const status = c.res.status;
    // The line is built only when it is written: at the peak of a sale this runs for every request.
    if (status < 500 && !debug) return;
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

/**
 * A SERVER span per request, child of the caller's W3C `traceparent` when it sent one (the
 * gateway sends its own to the API, so an in-process or remote API hop stays in one trace).
 * Named `<method> <route template>`, never the raw path (ids would make every name unique).
 */
function serverSpans(t: Tracing): MiddlewareHandler<AppEnv> {
  return (c, next) => {
    const carrier: Record<string, string> = {};
    const traceparent = requestHeader(c, "traceparent");
    if (traceparent !== undefined) carrier.traceparent = traceparent;
    const tracestate = requestHeader(c, "tracestate");
    if (tracestate !== undefined) carrier.tracestate = tracestate;
    return t.inSpan(
      c.req.method,
      { kind: t.kinds.SERVER, parent: t.extract(carrier), attributes: { "http.request.method": c.req.method, "url.path": c.req.path } },
      async (span) => {
        await next();
        const route = routePath(c); // after next(): the handler that answered
        span.updateName(`${c.req.method} ${route}`);
        span.setAttributes({ "http.route": route, "http.response.status_code": c.res.status, "seckill.request_id": c.get("requestId") });
        if (c.res.status >= 500) span.setStatus({ code: 2, message: `answered ${c.res.status}` }); // SpanStatusCode.ERROR
      },
    );
  };
}
