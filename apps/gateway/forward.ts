import { Agent, type Dispatcher, request } from "undici";
import { AppError } from "../core/errors.js";
import { INTERNAL_HEADER, internalToken, setUserHeader } from "../core/identity.js";
import type { Logger } from "../core/logger.js";
import { tracing } from "../core/tracing.js";

/** Passes a request on to the API: in-process (its fetch handler) or over HTTP with keep-alive. */
export type Forward = (
  req: Request,
  userId: string | null,
  requestId?: string,
  /** Reads a header of `req` (cheaper than req.headers where the caller has the raw request). */
  headerOf?: (name: string) => string | undefined,
  /** The body, already read under the route's limit (see core/body.ts); none for GET and HEAD. */
  body?: Uint8Array,
) => Promise<Response>;

const decoder = new TextDecoder();

/**
 * The request handed to a co-hosted API's fetch handler: what Hono reads of a request (url,
 * method, headers, the body as text/JSON/bytes) without building undici's Request, whose
 * constructor and body stream cost more than everything else in an in-process hop.
 */
class LocalRequest {
  readonly bodyUsed = false;
  readonly headers: LocalHeaders;
  constructor(
    readonly url: string,
    readonly method: string,
    headers: Record<string, string>,
    // Not named `body`: that is the WHATWG stream a reader would look for (see core/body.ts).
    private readonly bytes: Uint8Array | undefined,
  ) {
    this.headers = new LocalHeaders(headers);
  }
  arrayBuffer(): Promise<ArrayBuffer> {
    const b = this.bytes;
    return Promise.resolve(b ? (b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer) : new ArrayBuffer(0));
  }
  text(): Promise<string> {
    return Promise.resolve(this.bytes ? decoder.decode(this.bytes) : "");
  }
  json(): Promise<unknown> {
    return this.text().then((t) => JSON.parse(t) as unknown);
  }
}

/** The read side of Headers that Hono uses (get; forEach for c.req.header() without a name). */
class LocalHeaders {
  constructor(private readonly all: Record<string, string>) {}
  get(name: string): string | null {
    return this.all[name.toLowerCase()] ?? null;
  }
  forEach(fn: (value: string, name: string) => void): void {
    for (const [k, v] of Object.entries(this.all)) fn(v, k);
  }
}

/** Headers of the API's answer that describe its own connection, not the answer. */
const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding", "content-length"]);

// X-Request-Id is not among them: the gateway sends its own (validated) id.
const PASSED_HEADERS = ["content-type", "idempotency-key", "x-timestamp", "x-signature"];

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
  const tracer = tracing();

  return async (req, userId, requestId, headerOf = (name) => req.headers.get(name) ?? undefined, body) => {
    const url = new URL(req.url);
    const headers: Record<string, string> = {};
    for (const name of PASSED_HEADERS) {
      const v = headerOf(name);
      if (v !== undefined) headers[name] = v;
    }
    // The API logs and answers with the gateway's request id (the caller's when it was safe to
    // echo, else the gateway's own): one id per purchase end to end.
    if (requestId) headers["x-request-id"] = requestId;
    // The gateway's span becomes the API's parent (W3C traceparent), in-process or over HTTP.
    tracer?.inject(headers);
    // Never trust identity headers from outside: set them here or not at all.
    if (userId) {
      setUserHeader(headers, userId);
      headers[INTERNAL_HEADER] = vouch;
    }
    const target = `${base ?? "http://api.internal"}${url.pathname}${url.search}`;
    if (!base) return opts.apiFetch!(new LocalRequest(target, req.method, headers, body) as unknown as Request);
    try {
      // undici.request, not fetch: no WHATWG streams in between, about a third less time per hop.
      const res = await request(target, {
        method: req.method as Dispatcher.HttpMethod,
        headers,
        body,
        dispatcher,
      });
      const text = await res.body.text();
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(res.headers)) {
        if (v === undefined || HOP_BY_HOP.has(k)) continue;
        out[k] = Array.isArray(v) ? v.join(", ") : v;
      }
      return new Response(res.statusCode === 204 || res.statusCode === 304 ? null : text, { status: res.statusCode, headers: out });
    } catch (err) {
      opts.logger.error({ api: base, err, path: url.pathname }, "gateway could not reach the API; answered 503 (is the API process up?)");
      throw apiUnreachable();
    }
  };
}
