import { OpenAPIRegistry, OpenApiGeneratorV31 } from "@asteasolutions/zod-to-openapi";
import { adminOperations } from "./admin.js";
import { admissionOperations } from "./admission.js";
import { devOperations, publicOperations } from "./public.js";
import { type Operation, register } from "./registry.js";

export type OpenApiDocument = ReturnType<OpenApiGeneratorV31["generateDocument"]>;

/** Every operation of the platform, the development-only ones when `dev` is set. */
export function operations(opts: { dev: boolean }): Operation[] {
  return [...publicOperations, ...admissionOperations, ...(opts.dev ? devOperations : []), ...adminOperations];
}

/**
 * The OpenAPI 3.1 document of the platform's HTTP API, generated from the zod schemas in this
 * folder (the same ones the routes validate with). Served at GET /openapi.json.
 */
export function buildOpenApiDocument(opts: { dev: boolean; version?: string }): OpenApiDocument {
  const registry = new OpenAPIRegistry();
  registry.registerComponent("securitySchemes", "userJwt", {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description: "HS256 (JWT_SECRET) with `sub` = user id and `exp`; the Authorization scheme is case-insensitive",
  });
  registry.registerComponent("securitySchemes", "adminToken", {
    type: "http",
    scheme: "bearer",
    description: "Authorization: Bearer <ADMIN_TOKEN>",
  });
  registry.registerComponent("securitySchemes", "adminSession", {
    type: "apiKey",
    in: "cookie",
    name: "seckill_admin",
    description: "the console's session cookie (POST /admin/session); writes must come from the same origin",
  });
  for (const op of operations(opts)) register(registry, op);
  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: "3.1.0",
    info: {
      title: "Seckill flash-sale platform",
      version: opts.version ?? "0.1.0",
      description:
        'A limited stock goes on sale at a fixed moment; a crowd buys at once. Errors are always `{"error":{"code","message"}}`; ' +
        "times are ISO-8601 UTC; money is integer cents; every identifier is byte-exact and case-sensitive.",
    },
  });
}
