import type { OpenAPIRegistry, RouteConfig } from "@asteasolutions/zod-to-openapi";
import { z } from "zod";
import { ERROR_STATUS, type ErrorCode } from "../core/errors.js";
import { errorBody } from "./schemas.js";

/**
 * One operation of the contract: the success answers and every error code it may give. Error
 * codes are grouped by their status (ERROR_STATUS decides it, as it does for AppError), so the
 * document cannot disagree with what the handlers throw.
 */
export interface Operation {
  method: RouteConfig["method"];
  /** Hono's form, `/api/sales/:saleId`; turned into OpenAPI's `{saleId}` here. */
  path: string;
  tag: "public" | "admission" | "payments" | "admin" | "admin console" | "operations" | "pages" | "development";
  summary: string;
  description?: string;
  security?: "user" | "admin" | "none";
  params?: Record<string, z.ZodType>;
  query?: z.ZodObject;
  headers?: z.ZodObject;
  body?: z.ZodType;
  ok: Record<number, { description: string; schema?: z.ZodType; contentType?: string; headers?: Record<string, string> }>;
  errors?: ErrorCode[];
}

const RETRY_AFTER = { schema: { type: "integer" as const, minimum: 0 }, description: "seconds to wait before trying again" };
/** Codes whose answers carry Retry-After. */
const WITH_RETRY_AFTER = new Set<ErrorCode>(["rate_limited", "overloaded", "unavailable"]);

export function toOpenApiPath(path: string): string {
  return path.replace(/:([A-Za-z0-9_]+)/g, "{$1}");
}

export function register(registry: OpenAPIRegistry, op: Operation): void {
  const responses: RouteConfig["responses"] = {};
  for (const [status, r] of Object.entries(op.ok)) {
    const headers = r.headers
      ? Object.fromEntries(
          Object.entries(r.headers).map(([name, description]) => [name, { schema: { type: "string" as const }, description }]),
        )
      : undefined;
    responses[status] = {
      description: r.description,
      headers,
      content: r.schema ? { [r.contentType ?? "application/json"]: { schema: r.schema } } : undefined,
    };
  }
  const byStatus = new Map<number, ErrorCode[]>();
  // Every call that carries a body is refused with 413 beyond its route's limit (core/body.ts).
  const codes: ErrorCode[] = [
    ...(op.errors ?? []),
    ...(op.method === "post" || op.method === "patch" ? (["payload_too_large"] as const) : []),
  ];
  for (const code of codes) {
    const status = ERROR_STATUS[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  for (const [status, codes] of byStatus) {
    const retry = codes.some((c) => WITH_RETRY_AFTER.has(c));
    responses[String(status)] = {
      description: `error code ${codes.map((c) => `\`${c}\``).join(" or ")}${retry ? " (with Retry-After)" : ""}`,
      headers: retry ? { "Retry-After": RETRY_AFTER } : undefined,
      content: { "application/json": { schema: errorBody } },
    };
  }
  registry.registerPath({
    method: op.method,
    path: toOpenApiPath(op.path),
    tags: [op.tag],
    summary: op.summary,
    description: op.description,
    security: op.security === "user" ? [{ userJwt: [] }] : op.security === "admin" ? [{ adminToken: [] }, { adminSession: [] }] : [],
    request: {
      params: op.params ? z.object(op.params) : undefined,
      query: op.query,
      headers: op.headers,
      body: op.body ? { required: true, content: { "application/json": { schema: op.body } } } : undefined,
    },
    responses,
  });
}

/** A static HTML page built by `npm run build:web`: 200 with an ETag, 304 on a match, 503 until built. */
export function htmlPage(page: { path: string; tag: Operation["tag"]; summary: string; cacheControl: string }): Operation {
  return {
    method: "get",
    path: page.path,
    tag: page.tag,
    summary: page.summary,
    description: "503 `unavailable` while the web pages are not built (`npm run build:web`).",
    ok: {
      200: {
        description: "HTML",
        schema: z.string(),
        contentType: "text/html",
        headers: { ETag: "entity tag", "Cache-Control": page.cacheControl },
      },
      304: { description: "not modified (If-None-Match matched)" },
    },
    errors: ["unavailable"],
  };
}
