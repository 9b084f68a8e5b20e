import { Ajv2020 } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import type { Hono } from "hono";
import type { OpenApiDocument } from "../../apps/contract/document.js";
import { toOpenApiPath } from "../../apps/contract/registry.js";

// ajv-formats is CommonJS: its default export is the plugin under NodeNext's interop.
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

type Responses = Record<string, { content?: Record<string, unknown>; headers?: Record<string, unknown> }>;

/** Routes an app registered (middleware excluded), as `METHOD path` in OpenAPI's form. */
export function registeredRoutes(
  app: Pick<Hono, "routes"> | { routes: { method: string; path: string }[] },
  skip: (path: string) => boolean = () => false,
): string[] {
  const out = new Set<string>();
  for (const r of app.routes) {
    if (r.method === "ALL" || skip(r.path)) continue;
    out.add(`${r.method} ${toOpenApiPath(r.path)}`);
  }
  return [...out].sort();
}

export function documentedRoutes(doc: OpenApiDocument): string[] {
  const out: string[] = [];
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const method of Object.keys(item as object)) out.push(`${method.toUpperCase()} ${path}`);
  }
  return out.sort();
}

/**
 * Checks answers against the document: the status must be one the operation declares, a JSON
 * body must match its schema (ajv, JSON Schema 2020-12 as OpenAPI 3.1 uses), and declared
 * Retry-After headers must be there. Returns the problems (empty when the answer conforms).
 */
export function createContractChecker(doc: OpenApiDocument) {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema(doc as object, "openapi");
  const pointer = (...parts: string[]) => parts.map((p) => p.replace(/~/g, "~0").replace(/\//g, "~1")).join("/");

  return {
    async check(method: string, pathTemplate: string, res: Response): Promise<string[]> {
      const path = toOpenApiPath(pathTemplate);
      const op = (doc.paths?.[path] as Record<string, { responses: Responses }> | undefined)?.[method.toLowerCase()];
      if (!op) return [`${method} ${path} is not in the document`];
      const status = String(res.status);
      const declared = op.responses[status];
      if (!declared)
        return [`${method} ${path} answered ${status}, which the document does not declare (${Object.keys(op.responses).join(", ")})`];
      const problems: string[] = [];
      for (const name of Object.keys(declared.headers ?? {})) {
        if (name === "Retry-After" && !res.headers.get(name)) problems.push(`${method} ${path} ${status}: Retry-After missing`);
      }
      const json = declared.content?.["application/json"];
      if (json) {
        const text = await res.clone().text();
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          return [...problems, `${method} ${path} ${status}: body is not JSON: ${text.slice(0, 200)}`];
        }
        const ref = `openapi#/${pointer("paths", path, method.toLowerCase(), "responses", status, "content", "application/json", "schema")}`;
        const validate = ajv.getSchema(ref) ?? ajv.compile({ $ref: ref });
        if (!validate(body)) problems.push(`${method} ${path} ${status}: ${ajv.errorsText(validate.errors)} in ${text.slice(0, 300)}`);
      }
      return problems;
    },
  };
}
