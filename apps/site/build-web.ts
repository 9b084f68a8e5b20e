import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { fromRoot } from "../core/paths.js";
import { WEB_BASE, WEB_DIST } from "./web-assets.js";

/**
 * `npm run build:web` (run by `npm start` and `npm test` before they begin): builds apps/web with
 * Vite into apps/web/dist, unless a build of exactly these sources is already there (a hash of
 * every source file, the lock file and this script is kept beside the output), so a repeated
 * start costs a few milliseconds.
 */
const ROOT = fromRoot("apps/web/");
const STAMP = join(WEB_DIST, ".source-hash");

function sourceHash(): string {
  const hash = createHash("sha256");
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (p === WEB_DIST.replace(/\/$/, "") || name === "node_modules") continue;
      if (statSync(p).isDirectory()) walk(p);
      else hash.update(relative(ROOT, p)).update(readFileSync(p));
    }
  };
  walk(ROOT);
  for (const extra of [fileURLToPath(import.meta.url), fromRoot("package-lock.json")]) {
    if (existsSync(extra)) hash.update(readFileSync(extra));
  }
  return hash.digest("hex");
}

export async function buildWeb(opts: { force?: boolean; log?: (msg: string) => void } = {}): Promise<"built" | "up to date"> {
  const log = opts.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const hash = sourceHash();
  if (!opts.force && existsSync(STAMP) && readFileSync(STAMP, "utf8") === hash) return "up to date";
  const started = performance.now();
  // Vite is a development dependency: a production image builds the pages at image build time.
  const { build } = await import("vite");
  await build({
    root: ROOT,
    base: WEB_BASE,
    logLevel: "warn",
    configFile: false,
    build: {
      outDir: WEB_DIST,
      emptyOutDir: true,
      rollupOptions: { input: { storefront: join(ROOT, "storefront/index.html"), console: join(ROOT, "console/index.html") } },
    },
  });
  writeFileSync(STAMP, hash);
  log(`web pages built into ${relative(process.cwd(), WEB_DIST)} in ${Math.round(performance.now() - started)} ms`);
  return "built";
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await buildWeb({ force: process.argv.includes("--force") });
}
