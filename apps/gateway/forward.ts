import { Agent, fetch as undiciFetch } from "undici";
import { AppError } from "../core/errors.js";
import { INTERNAL_HEADER, internalToken, USER_HEADER } from "../core/identity.js";
import type { Logger } from "../core/logger.js";

/** Passes a request on to the API: in-process (its fetch handler) or over HTTP with keep-alive. */
export type Forward = (req: Request, userId: string | null) => Promise<Response>;

const PASSED_HEADERS = ["content-type", "idempotency-key", "x-request-id", "x-timestamp", "x-signature"];

/**
 * The API could not be reached (a separate API process down or restarting). The gateway answers
 * 503 with Retry-After. The API may have reserved before it died: a retry with the same
 * Idempotency-Key returns that order instead of trying again.
 */
function apiUnreachable(): AppError {
  return new AppError(
    "unavailable",
    "the service is briefly unavailable; retry in a moment (with the same Idempotency-Key, a purchase that went through is returned, not repeated)",
    {
      headers: { "Retry-After": "1" },
    },
  );
}

export function createForward(opts: {
  apiFetch?: (req: Request) => Response | Promise<Response>;
  apiUrl?: string;
  jwtSecret: string;
  logger: Logger;
}): Forward {
  const vouch = internalToken(opts.jwtSecret);
  const base = opts.apiUrl?.replace(/\/$/, "");
  if (!opts.apiFetch && !base) throw new Error("the gateway needs the API: in-process (apiFetch) or API_URL");
  // Keep-alive pool to a separate API process.
  const dispatcher = base ? new Agent({ connections: 128, pipelining: 1, keepAliveTimeout: 30_000 }) : undefined;

  return async (req, userId) => {
    const url = new URL(req.url);
    const headers = new Headers();
    for (const name of PASSED_HEADERS) {
      const v = req.headers.get(name);
      if (v !== null) headers.set(name, v);
    }
    // Never trust identity headers from outside: set them here or not at all.
    if (userId) {
      headers.set(USER_HEADER, userId);
      headers.set(INTERNAL_HEADER, vouch);
    }
    const body = req.method === "GET" || req.method === "HEAD" ? undefined : await req.arrayBuffer();
    const target = `${base ?? "http://api.internal"}${url.pathname}${url.search}`;
    if (!base) return opts.apiFetch!(new Request(target, { method: req.method, headers, body }));
    try {
      return (await undiciFetch(target, { method: req.method, headers, body, dispatcher })) as unknown as Response;
    } catch (err) {
      opts.logger.error(
        { api: base, err: (err as Error).message, path: url.pathname },
        "gateway could not reach the API; answered 503 (is the API process up?)",
      );
      throw apiUnreachable();
    }
  };
}
