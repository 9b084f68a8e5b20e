import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { Logger } from "./logger.js";
import { json } from "./respond.js";

/** Every error code the platform answers with, and its HTTP status (DESIGN.md's contract). */
export const ERROR_STATUS = {
  invalid_request: 400,
  bad_solution: 400,
  unauthorized: 401,
  bad_signature: 401,
  forbidden: 403,
  sale_not_started: 403,
  sale_ended: 403,
  pass_required: 403,
  invalid_pass: 403,
  invalid_challenge: 403,
  not_found: 404,
  sale_not_found: 404,
  order_not_found: 404,
  not_in_queue: 404,
  already_purchased: 409,
  conflict: 409,
  sale_started: 409,
  stock_home_mismatch: 409,
  stock_home_not_empty: 409,
  stock_home_unreachable: 409,
  sold_out: 410,
  rate_limited: 429,
  request_timeout: 408,
  payload_too_large: 413,
  headers_too_large: 431,
  /** Never seen by the client (it left): the code the request is logged under. */
  client_aborted: 400,
  internal: 500,
  overloaded: 503,
  unavailable: 503,
  not_ready: 503,
} as const satisfies Record<string, ContentfulStatusCode>;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** Said by the API and, from memory, by the gateway: the same words either way. */
export const ALREADY_PURCHASED_MESSAGE = "you already hold the most orders this sale allows";

export interface ErrorBody {
  error: { code: ErrorCode; message: string; requestId?: string; [extra: string]: unknown };
}

/**
 * The one error type handlers throw. It carries a code from ERROR_STATUS; the status follows
 * from the code so the two cannot disagree. `extra` fields are added to the error body.
 */
export class AppError extends HTTPException {
  readonly code: ErrorCode;
  readonly extra: Record<string, unknown>;
  readonly headers: Record<string, string>;

  constructor(
    code: ErrorCode,
    message: string,
    opts: { extra?: Record<string, unknown>; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(ERROR_STATUS[code], { message, cause: opts.cause });
    this.code = code;
    this.extra = opts.extra ?? {};
    this.headers = opts.headers ?? {};
  }
}

/** Builds the uniform error response; used for thrown errors and for returned ones (shedding, limits). */
export function errorResponse(
  c: Context,
  code: ErrorCode,
  message: string,
  opts: { extra?: Record<string, unknown>; headers?: Record<string, string> } = {},
): Response {
  return json(c, errorBody(code, message, opts.extra, c.get("requestId") as string | undefined), ERROR_STATUS[code], opts.headers);
}

/** The uniform error body: `{ error: { code, message, ...extra, requestId } }`. */
export function errorBody(code: ErrorCode, message: string, extra?: Record<string, unknown>, requestId?: string): ErrorBody {
  return { error: { code, message, ...extra, requestId } };
}

/**
 * The client closed its connection (or was cut off by the request timeout) before its body was
 * read. Nothing is wrong on our side and nobody is left to answer: logged once, at info.
 */
export class ClientAbortedError extends Error {
  override name = "ClientAbortedError";
  constructor(
    readonly receivedBytes: number,
    /** The server cut the client off (request timeout, answered 408) rather than the client leaving. */
    readonly timedOut = false,
  ) {
    super(
      timedOut
        ? "the request body did not arrive within HTTP_REQUEST_TIMEOUT_MS; answered 408"
        : "the client closed the connection before its request body was read",
    );
  }
}

/** The log line for a client that left (or was cut off by the request timeout) before its body arrived. */
export function clientGoneMessage(timedOut: boolean): string {
  return timedOut
    ? "request_timeout: a slow client was cut off before sending its whole body (answered 408); nothing was done"
    : "client_aborted: the client went away before sending its whole body; nothing was done";
}

/** Hono onError: known errors keep their code; anything else is a 500 that never echoes internals. */
export function errorHandler(logger: Logger) {
  return (err: Error, c: Context): Response => {
    if (err instanceof ClientAbortedError) {
      const code = err.timedOut ? "request_timeout" : "client_aborted";
      logger.info(
        { code, requestId: c.get("requestId"), method: c.req.method, path: c.req.path, receivedBytes: err.receivedBytes },
        clientGoneMessage(err.timedOut),
      );
      return errorResponse(c, "client_aborted", err.message);
    }
    if (err instanceof AppError) {
      return errorResponse(c, err.code, err.message, { extra: err.extra, headers: err.headers });
    }
    if (err instanceof HTTPException) {
      // Hono's own (e.g. malformed JSON from a validator, JWT middleware): keep the status, map the code.
      const status = err.status;
      const code: ErrorCode =
        status === 401 ? "unauthorized" : status === 404 ? "not_found" : status < 500 ? "invalid_request" : "internal";
      return errorResponse(c, code, status < 500 ? err.message || code : "internal error");
    }
    logger.error({ err, requestId: c.get("requestId"), method: c.req.method, path: c.req.path }, "unhandled error in request");
    return errorResponse(c, "internal", "internal error; the request id identifies it in the logs");
  };
}

/**
 * Parses a request body as JSON and validates it; any problem is a 400 invalid_request that
 * names every field at fault. An empty body counts as `{}` when `emptyIsObject` is set.
 */
export function parseJsonBody<T>(raw: string, schema: import("zod").ZodType<T>, opts: { emptyIsObject?: boolean } = {}): T {
  let json: unknown;
  if (opts.emptyIsObject && raw.trim() === "") json = {};
  else {
    try {
      json = JSON.parse(raw);
    } catch {
      throw new AppError("invalid_request", "the body must be JSON");
    }
  }
  const result = schema.safeParse(json);
  if (!result.success) {
    throw new AppError("invalid_request", result.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("; "));
  }
  return result.data;
}
