import { Agent, fetch as undiciFetch } from "undici";
import { INTERNAL_HEADER, internalToken, USER_HEADER } from "../core/identity.js";

/** Passes a request on to the API: in-process (its fetch handler) or over HTTP with keep-alive. */
export type Forward = (req: Request, userId: string | null) => Promise<Response>;

const PASSED_HEADERS = ["content-type", "idempotency-key", "x-request-id", "x-timestamp", "x-signature"];

/**
 * The API could not be reached (a separate API process down or restarting). The gateway answers
 * 503 with Retry-After. The API may have reserved before it died: a retry with the same
 * Idempotency-Key returns that order instead of trying again.
 */
export class ApiUnreachable extends Error {
  override name = "ApiUnreachable";
}

export function createForward(opts: {
  apiFetch?: (req: Request) => Response | Promise<Response>;
  apiUrl?: string;
  jwtSecret: string;
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
      throw new ApiUnreachable(`API at ${base} unreachable: ${(err as Error).message}`, { cause: err });
    }
  };
}
