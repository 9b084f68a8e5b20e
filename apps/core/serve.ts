import { createServer, type IncomingMessage, type Server, type ServerResponse, STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import { getRequestListener, RequestError } from "@hono/node-server";
import type { Hono } from "hono";
import { ERROR_STATUS, type ErrorBody, type ErrorCode } from "./errors.js";
import type { AppEnv } from "./http.js";
import type { Logger } from "./logger.js";

/** How long a client may take to send a request; every listener of the platform applies them. */
export interface HttpTimeouts {
  /** The request line and headers must arrive within this (Node's server.headersTimeout). */
  headersTimeoutMs: number;
  /** The whole request, headers and body, must arrive within this (Node's server.requestTimeout). */
  requestTimeoutMs: number;
}

export const DEFAULT_TIMEOUTS: HttpTimeouts = { headersTimeoutMs: 5000, requestTimeoutMs: 10_000 };

/** The listener settings a config asks for. */
export function httpOptions(config: { HTTP_HEADERS_TIMEOUT_MS: number; HTTP_REQUEST_TIMEOUT_MS: number }, logger?: Logger) {
  return { headersTimeoutMs: config.HTTP_HEADERS_TIMEOUT_MS, requestTimeoutMs: config.HTTP_REQUEST_TIMEOUT_MS, logger };
}

/**
 * What Node itself refuses before a request reaches the app (llhttp parse errors, the request
 * timeout), by the error's code. Anything else unparseable is a 400.
 */
const CLIENT_ERRORS: Record<string, ErrorCode> = {
  HPE_HEADER_OVERFLOW: "headers_too_large",
  ERR_HTTP_REQUEST_TIMEOUT: "request_timeout",
  HPE_CHUNK_EXTENSIONS_OVERFLOW: "payload_too_large",
};

const CLIENT_ERROR_MESSAGES: Partial<Record<ErrorCode, string>> = {
  headers_too_large: "the request headers are too large",
  request_timeout: "the request was not received in time; send headers and body promptly",
  payload_too_large: "chunk extensions too large",
};

/** A complete HTTP/1.1 answer with the uniform error body, written straight to a socket. */
function rawErrorResponse(code: ErrorCode, message: string): string {
  const status = ERROR_STATUS[code];
  const body = JSON.stringify({ error: { code, message } } satisfies ErrorBody);
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
    `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`
  );
}

/** Sockets this server cut off for the request timeout: a body read that ends there says so (see body.ts). */
export const timedOutSockets = new WeakSet<object>();

/**
 * Node answers requests it cannot parse (431 too many headers, 400 for both Content-Length and
 * Transfer-Encoding, ...) and the request timeout (408) with an empty body. This answers them
 * with the uniform error body instead, where the socket allows: it is still writable and no
 * answer to another request is half-written on it.
 */
function onClientError(logger: Logger | undefined) {
  return (err: NodeJS.ErrnoException, socket: Duplex) => {
    const pending = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (err.code === "ECONNRESET" || !socket.writable || pending?.headersSent) {
      socket.destroy();
      return;
    }
    const code = CLIENT_ERRORS[err.code ?? ""] ?? "invalid_request";
    if (code === "request_timeout") timedOutSockets.add(socket);
    const message = CLIENT_ERROR_MESSAGES[code] ?? `the request could not be parsed (${err.code ?? "malformed"})`;
    logger?.debug({ code, reason: err.code }, "request refused before it reached the app");
    socket.end(rawErrorResponse(code, message), () => socket.destroy());
  };
}

/**
 * Listens on host:port (0: any free port); resolves with the bound port once listening.
 *
 * Every listener sets the header and request timeouts (a slow client is cut off with 408 instead
 * of holding a socket for Node's default 300 s), answers Node's own refusals with the uniform
 * body, and answers a request target @hono/node-server cannot turn into a URL (`*`, a bad Host)
 * with a uniform 400.
 */
export function listen(
  app: Hono<AppEnv>,
  host: string,
  port: number,
  opts: Partial<HttpTimeouts> & {
    logger?: Logger;
    /** Sees each request first; returns true when it answered it (the gateway's sold-out fast path). */
    fastPath?: (req: IncomingMessage, res: ServerResponse) => boolean;
  } = {},
): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const timeouts = { ...DEFAULT_TIMEOUTS, ...opts };
  const fastPath = opts.fastPath;
  const listener = getRequestListener(app.fetch, {
    hostname: host,
    errorHandler: (err) => {
      if (err instanceof RequestError) {
        return new Response(rawBody("invalid_request", `the request target or Host header is not valid (${err.message})`), {
          status: 400,
          headers: { "content-type": "application/json" },
        });
      }
      opts.logger?.error({ err }, "request failed before it reached the app");
      return new Response(rawBody("internal", "internal error"), { status: 500, headers: { "content-type": "application/json" } });
    },
  });
  const server = createServer(
    {
      headersTimeout: timeouts.headersTimeoutMs,
      requestTimeout: timeouts.requestTimeoutMs,
      // Node checks both timeouts on this interval (default 30 s, far coarser than the timeouts).
      connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(timeouts.headersTimeoutMs / 2))),
    },
    fastPath ? (req, res) => fastPath(req, res) || listener(req, res) : listener,
  );
  // Idle keep-alive connections outlive those of clients and load balancers (60 s is common),
  // so the server is never the one closing a socket a client is about to reuse. The header and
  // request timeouts start at a request's first byte, so they do not cut idle sockets.
  server.keepAliveTimeout = 65_000;
  server.on("clientError", onClientError(opts.logger));
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      const address = server.address();
      resolve({
        server,
        port: typeof address === "object" && address ? address.port : port,
        close: () =>
          new Promise<void>((res) => {
            server.close(() => res());
            // Idle keep-alive sockets would hold close() open until they time out.
            server.closeIdleConnections();
          }),
      });
    });
  });
}

function rawBody(code: ErrorCode, message: string): string {
  return JSON.stringify({ error: { code, message } } satisfies ErrorBody);
}
