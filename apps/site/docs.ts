import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { Hono } from "hono";
import { errorResponse } from "../core/errors.js";
import type { AppEnv } from "../core/http.js";
import { fromRoot } from "../core/paths.js";
import { sendAsset } from "./web-assets.js";

/**
 * GET /openapi.json (the contract, generated from apps/contract) and GET /docs, the API
 * reference: Swagger UI (swagger-ui-dist, OpenAPI 3.1), served from node_modules so the page
 * works offline and behind a firewall; no CDN.
 */
const SWAGGER_FILES = ["swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png"] as const;
const TYPES: Record<string, string> = { css: "text/css; charset=utf-8", js: "text/javascript; charset=utf-8", png: "image/png" };

const DOCS_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Seckill API reference</title>
<link rel="icon" href="/docs/assets/favicon-32x32.png">
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
<style>body{margin:0} .topbar{display:none}</style>
</head>
<body>
<div id="reference"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script>
  window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#reference", deepLinking: true, tryItOutEnabled: false, defaultModelsExpandDepth: 0 });
</script>
</body>
</html>
`;

function asset(body: Uint8Array, type: string) {
  return { body, type, etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"` };
}

export function mountDocs(app: Hono<AppEnv>, opts: { dev: boolean }): void {
  // Generated on first request, not at start: generating takes ~150 ms and loads the generator,
  // which every HTTP worker would otherwise pay before it can take a purchase.
  let document: Promise<ReturnType<typeof asset>> | undefined;
  const openapi = () => {
    document ??= import("../contract/document.js").then(({ buildOpenApiDocument }) =>
      asset(Buffer.from(JSON.stringify(buildOpenApiDocument({ dev: opts.dev }))), "application/json"),
    );
    return document;
  };
  const page = asset(Buffer.from(DOCS_HTML), "text/html; charset=utf-8");
  let swaggerDir: string | undefined;
  try {
    swaggerDir = dirname(createRequire(fromRoot("package.json")).resolve("swagger-ui-dist/package.json"));
  } catch {
    swaggerDir = undefined; // /docs then says what is missing; /openapi.json still works
  }
  const files = new Map<string, ReturnType<typeof asset>>();

  app.get("/openapi.json", async (c) => sendAsset(c, await openapi(), { cacheControl: "public, max-age=60" }));
  app.get("/docs", (c) => sendAsset(c, page, { cacheControl: "public, max-age=60" }));
  app.get("/docs/assets/:file", (c) => {
    const name = c.req.param("file");
    if (!swaggerDir) return errorResponse(c, "unavailable", "the API reference needs the swagger-ui-dist package: npm ci");
    if (!(SWAGGER_FILES as readonly string[]).includes(name)) return errorResponse(c, "not_found", `no file ${name}`);
    let file = files.get(name);
    if (!file) {
      file = asset(readFileSync(join(swaggerDir, name)), TYPES[name.split(".").pop() ?? ""] ?? "application/octet-stream");
      files.set(name, file);
    }
    return sendAsset(c, file, { cacheControl: "public, max-age=86400" });
  });
}
