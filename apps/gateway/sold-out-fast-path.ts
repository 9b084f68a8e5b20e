import type { IncomingMessage, ServerResponse } from "node:http";
import { AppError, clientGoneMessage, ERROR_STATUS, type ErrorCode, errorBody, parseJsonBody } from "../core/errors.js";
import { requestIdFor } from "../core/http.js";
import type { Logger } from "../core/logger.js";
import { timedOutSockets } from "../core/serve.js";
import { SALE_ID_PATTERN } from "../domain/order-message.js";
import { isPlainPurchaseBody, OVERLOADED_MESSAGE, purchaseBodySchema } from "../domain/purchase-request.js";

/** The longest body a purchase may carry and still be answered here: `{"quantity":1}` (14 bytes) with room for whitespace. */
const MAX_BODY_BYTES = 64;

/**
 * A Host header @hono/node-server turns into a URL without a check that could refuse it (its own
 * fast pattern, src/url.ts): anything else (a missing Host, a port, upper case, `a b`, `u@x`) goes
 * to Hono, which may answer 400 for it.
 */
const PLAIN_HOST = /^[a-z0-9._-]+(?::(?:[1-5]\d{3,4}|[6-9]\d{3}))?$/;

/**
 * The gateway's answer to a purchase of a sold-out sale, given by node:http itself, before Hono
 * builds a Request, a Context and a Response for it. After a sell-out nearly every request is
 * this one (the crowd's second second, a flood of new buyers), and the framework's share of its
 * cost is larger than the answer's own: it is the same 410 the route gives (same body, headers,
 * counters), earlier.
 *
 * Taken only when the route would answer 410 and nothing else could differ: `POST
 * /api/sales/<id>/orders` with an id of the sale-id alphabet (no query, no escapes), the sale's
 * sold-out flag set, no Idempotency-Key (a replay must reach the API), a Content-Length of at
 * most 64 bytes or no body at all (never chunked), a plain Host header, no Origin when CORS is on.
 * The body is still read and checked first, as the route does: a malformed one is a 400, whatever
 * the sale's state; a valid one while the route sheds load (`overloaded()`) is the route's 503.
 * Anything else returns false and goes to Hono untouched (nothing read from the request).
 */
export function soldOutFastPath(deps: {
  isSoldOut: (saleId: string) => boolean;
  /** Counts the answer in seckill_gateway_rejections_total (by error code). */
  countRejection: (code: ErrorCode) => void;
  /** Counts and times the answer per sale, as the route's middleware does (purchase-outcomes.ts). */
  record: (saleId: string, status: number, seconds: number) => void;
  /**
   * Set when CORS is on: the headers its middleware adds to an answer to a request without an
   * Origin (`Vary: Origin`, `Access-Control-Expose-Headers`), lower-case names. Requests with an
   * Origin then go the usual way (their answers need the framework's headers).
   */
  corsHeaders?: Record<string, string>;
  /** The route is shedding load (MAX_INFLIGHT_PURCHASES in flight): it answers 503 before the sold-out flag. */
  overloaded?: () => boolean;
  /** Where a client that leaves mid-body is logged (at info), as the app's error handler logs it for the route. */
  logger?: Logger;
}): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    if (req.method !== "POST") return false;
    const url = req.url ?? "";
    if (!url.startsWith("/api/sales/") || !url.endsWith("/orders")) return false;
    const saleId = url.slice(11, url.length - 7);
    if (!SALE_ID_PATTERN.test(saleId) || !deps.isSoldOut(saleId)) return false;
    const headers = req.headers;
    if (headers.host === undefined || !PLAIN_HOST.test(headers.host)) return false;
    if (headers["idempotency-key"] !== undefined || headers["transfer-encoding"] !== undefined) return false;
    if (deps.corsHeaders && headers.origin !== undefined) return false;
    const declared = headers["content-length"];
    if (declared !== undefined && !(Number(declared) <= MAX_BODY_BYTES)) return false;

    const started = performance.now();
    const requestId = requestIdFor(headers["x-request-id"] as string | undefined);
    const answer = (raw: string) => {
      let code: ErrorCode = "sold_out";
      let body: string | undefined;
      if (!isPlainPurchaseBody(raw)) {
        try {
          parseJsonBody(raw, purchaseBodySchema, { emptyIsObject: true });
        } catch (err) {
          if (!(err instanceof AppError)) throw err;
          code = err.code;
          body = JSON.stringify(errorBody(err.code, err.message, err.extra, requestId));
        }
      }
      const shed = body === undefined && deps.overloaded?.() === true;
      if (shed) {
        code = "overloaded";
        body = JSON.stringify(errorBody("overloaded", OVERLOADED_MESSAGE, undefined, requestId));
      }
      body ??= JSON.stringify(errorBody("sold_out", "sold out", { saleId }, requestId));
      const status = ERROR_STATUS[code];
      res.writeHead(status, {
        ...deps.corsHeaders,
        "content-type": "application/json",
        "content-length": Buffer.byteLength(body),
        "x-request-id": requestId,
        ...(shed ? { "retry-after": "1" } : {}),
      });
      res.end(body);
      deps.countRejection(code);
      deps.record(saleId, status, (performance.now() - started) / 1000);
    };
    if (declared === undefined || declared === "0") {
      // No body (RFC 9112 §6.3): nothing to wait for.
      req.resume();
      answer("");
      return true;
    }
    let raw = "";
    let receivedBytes = 0;
    let ended = false;
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => {
      raw += chunk;
      receivedBytes += Buffer.byteLength(chunk);
    });
    req.on("end", () => {
      ended = true;
      answer(raw);
    });
    // A client that leaves mid-body gets nothing; the listener's request timeout answers a slow one
    // with 408 (serve.ts). Either is counted and logged as the route's body read and the app's error
    // handler do (core/body.ts, errors.ts): a 400 client_aborted for the sale, one line at info.
    req.on("close", () => {
      if (ended) return;
      const timedOut = timedOutSockets.has(req.socket);
      const code = timedOut ? "request_timeout" : "client_aborted";
      deps.logger?.info({ code, requestId, method: req.method, path: url, receivedBytes }, clientGoneMessage(timedOut));
      deps.record(saleId, ERROR_STATUS.client_aborted, (performance.now() - started) / 1000);
    });
    return true;
  };
}
