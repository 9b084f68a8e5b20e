import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";

/**
 * A JSON answer carrying the request id as X-Request-Id. Built with plain headers rather than
 * c.json(): for more than one header Hono makes a full Headers object, and @hono/node-server
 * then takes its slow path; at the peak of a sale this is every answer the platform gives.
 */
export function json(c: Context, body: unknown, status: ContentfulStatusCode = 200, headers?: Record<string, string>): Response {
  const h: Record<string, string> = { "content-type": "application/json", ...headers };
  const requestId = c.get("requestId") as string | undefined;
  if (requestId) h["x-request-id"] = requestId;
  return new Response(JSON.stringify(body), { status, headers: h });
}
