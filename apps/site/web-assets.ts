import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { extname, join, relative } from "node:path";
import type { Context } from "hono";
import { errorResponse } from "../core/errors.js";
import { requestHeader } from "../core/http.js";
import { fromRoot } from "../core/paths.js";

/** Where `npm run build:web` (Vite) writes the browser pages; not committed. */
export const WEB_DIST = fromRoot("apps/web/dist/");
/** The URL prefix the built assets are served under (Vite's `base`). */
export const WEB_BASE = "/ui/";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".json": "application/json",
  ".map": "application/json",
};

interface Asset {
  body: Uint8Array;
  etag: string;
  type: string;
}

export interface StaticOptions {
  /** Cache-Control for the answer. */
  cacheControl: string;
}

/** Files of a directory, read once, each with a strong ETag (a hash of its bytes). */
export function loadDirectory(dir: string): Map<string, Asset> {
  const out = new Map<string, Asset>();
  if (!existsSync(dir)) return out;
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else {
        const body = readFileSync(p);
        out.set(relative(dir, p).split("\\").join("/"), {
          body,
          etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"`,
          type: TYPES[extname(p)] ?? "application/octet-stream",
        });
      }
    }
  };
  walk(dir);
  return out;
}

/** Answers a file with its ETag; 304 when the browser or CDN already has these bytes. */
export function sendAsset(c: Context, asset: Asset, opts: StaticOptions): Response {
  const headers = { etag: asset.etag, "cache-control": opts.cacheControl, "content-type": asset.type };
  const match = requestHeader(c, "if-none-match");
  if (match?.split(",").some((t) => t.trim().replace(/^W\//, "") === asset.etag)) return new Response(null, { status: 304, headers });
  return new Response(c.req.method === "HEAD" ? null : asset.body, { status: 200, headers });
}

/**
 * The built web app: its pages and hashed assets. Read from disk on first use, so a process
 * started before the build still serves it once built.
 */
export function createWebAssets(dir = WEB_DIST) {
  let files: Map<string, Asset> | undefined;
  const get = (path: string) => {
    if (!files || files.size === 0) files = loadDirectory(dir);
    return files.get(path);
  };
  const notBuilt = (c: Context) =>
    // A 503 like every other: clients and proxies retry after Retry-After (the pages are read again on the next request).
    errorResponse(c, "unavailable", "the web pages are not built: run `npm run build:web` (npm start and npm test do it)", {
      headers: { "retry-after": "5" },
    });
  return {
    /** An HTML page of the app, e.g. "storefront/index.html". */
    page(name: string, opts: StaticOptions) {
      return (c: Context) => {
        const asset = get(name);
        return asset ? sendAsset(c, asset, opts) : notBuilt(c);
      };
    },
    /** GET /ui/*: content-hashed files, cached for a year. */
    assets() {
      return (c: Context) => {
        const rel = c.req.path.slice(WEB_BASE.length);
        const asset = rel.startsWith("assets/") ? get(rel) : undefined;
        if (!asset) return errorResponse(c, "not_found", `no asset ${c.req.path}`);
        return sendAsset(c, asset, { cacheControl: "public, max-age=31536000, immutable" });
      };
    },
  };
}

export type WebAssets = ReturnType<typeof createWebAssets>;
