import type { IncomingMessage } from "node:http";
import type { Context, MiddlewareHandler } from "hono";
import { AppError, ClientAbortedError } from "./errors.js";
import { type AppEnv, incomingOf, requestHeader } from "./http.js";
import { timedOutSockets } from "./serve.js";

/**
 * The largest body each kind of route reads, in bytes (the HTTP contract): a purchase or queue
 * call carries `{}` or `{"quantity":1}`, a payment callback or admin call a small JSON object.
 */
export const BODY_LIMITS = {
  purchase: 4 * 1024,
  queue: 4 * 1024,
  callback: 64 * 1024,
  admin: 64 * 1024,
} as const;

/**
 * 413 payload_too_large. No `Connection: close`: closing a socket with unread bytes in its
 * receive buffer makes the kernel send a reset, which can wipe the 413 out of the client's
 * buffer before it reads it. @hono/node-server instead discards what still arrives for 500 ms
 * (at most 64 MB, never held) and then closes: a lingering close, as nginx and Apache do.
 */
export function payloadTooLarge(limitBytes: number): AppError {
  return new AppError("payload_too_large", `the body is larger than this route accepts (at most ${limitBytes} bytes)`, {
    extra: { limitBytes },
  });
}

/**
 * Reads a request body of at most `limitBytes`, refusing a larger one (413 payload_too_large)
 * before reading it when Content-Length says so, and, for a chunked body, as soon as the bytes
 * received pass the limit: at most `limitBytes` (plus one chunk) is ever held in memory.
 * A client that goes away mid-body rejects with ClientAbortedError (logged once, at info).
 * Nothing here bounds the time a body takes: the listener's request timeout does (serve.ts).
 *
 * Why not hono/body-limit: it wraps the body in a new WHATWG Request and stream on every call,
 * which is what the gateway avoids elsewhere (see http.ts's requestHeader); reading Node's
 * IncomingMessage directly costs a few event listeners. Requests without a socket (a co-hosted
 * gateway's in-process call, app.request in tests) are read through the Request they carry.
 */
export async function readBody(c: Context, limitBytes: number): Promise<Buffer> {
  const declared = requestHeader(c, "content-length");
  if (declared !== undefined && Number(declared) > limitBytes) throw payloadTooLarge(limitBytes);
  const incoming = incomingOf(c);
  if (incoming) {
    // Neither Content-Length nor Transfer-Encoding: HTTP/1.1 says there is no body (RFC 9112 §6.3).
    if (declared === "0" || (declared === undefined && incoming.headers["transfer-encoding"] === undefined)) return EMPTY;
    return readIncoming(incoming, limitBytes);
  }
  return readRequest(c.req.raw, limitBytes);
}

const EMPTY = Buffer.alloc(0);

function readIncoming(incoming: IncomingMessage, limitBytes: number): Promise<Buffer> {
  if (incoming.readableEnded) return Promise.resolve(Buffer.alloc(0));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const detach = () => {
      incoming.off("data", onData);
      incoming.off("end", onEnd);
      incoming.off("error", onGone);
      incoming.off("close", onGone);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limitBytes) {
        // Nothing more is kept: the stream flows on into no listener until the lingering close.
        detach();
        reject(payloadTooLarge(limitBytes));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      detach();
      resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size));
    };
    // An aborted upload (client gone, or cut off by the server's request timeout) ends in
    // 'error' (ECONNRESET "aborted") and/or 'close' without 'end'.
    const onGone = () => {
      detach();
      reject(new ClientAbortedError(size, timedOutSockets.has(incoming.socket)));
    };
    incoming.on("data", onData);
    incoming.on("end", onEnd);
    incoming.on("error", onGone);
    incoming.on("close", onGone);
  });
}

async function readRequest(req: Request, limitBytes: number): Promise<Buffer> {
  const stream = (req as { body?: ReadableStream<Uint8Array> | null }).body;
  if (!stream || typeof stream.getReader !== "function") {
    // The gateway's in-process request (see gateway/forward.ts) holds bytes already limited.
    const all = Buffer.from(await req.arrayBuffer());
    if (all.length > limitBytes) throw payloadTooLarge(limitBytes);
    return all;
  }
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > limitBytes) {
      await reader.cancel().catch(() => {});
      throw payloadTooLarge(limitBytes);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, size);
}

/**
 * Middleware form for routes that read their body with c.req.text() / c.req.json() (admin):
 * reads it under the limit first and hands it to Hono's body cache, so the route reads the
 * bytes already held instead of the socket. GET and HEAD carry no body and pass untouched.
 */
export function limitBody(limitBytes: number): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (c.req.method === "GET" || c.req.method === "HEAD") return next();
    const body = await readBody(c, limitBytes);
    const copy = body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer;
    // Hono's cache holds promises at run time although its type names the resolved values.
    const cache = c.req.bodyCache as Record<string, Promise<unknown>>;
    cache.arrayBuffer = Promise.resolve(copy);
    cache.text = Promise.resolve(body.toString("utf8"));
    await next();
  };
}
