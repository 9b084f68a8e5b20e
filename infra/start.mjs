#!/usr/bin/env node
/**
 * Runs a TypeScript entry point compiled ahead of time: `node infra/start.mjs apps/platform/main.ts`.
 *
 * Why: tsx transpiles every module through Node's loader hooks at each start (about half a second
 * of a component's start-up on this class of machine, more when the box is busy); a crashed API
 * answers 503 for as long as its replacement takes to start. esbuild transpiles `apps/` and
 * `infra/` file by file (no bundling, so `dist/` mirrors the source tree and a stack trace names
 * the same file as the source) into `dist/<hash>/`, where the hash covers every source file's path,
 * size and mtime and the esbuild version: an unchanged tree reuses its build, a changed one builds
 * anew (about a second). The build goes to a temporary folder renamed into place, so several
 * processes starting at once (HTTP workers, split components) never see a half-written build.
 * The compiled entry is then imported in this process.
 *
 * Errors: exits 1 naming the entry when it is missing or the build fails (esbuild's messages
 * name file and line).
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import * as esbuild from "esbuild";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const DIST = join(ROOT, "dist");
/** Source folders compiled; folders skipped inside them (browser code has its own Vite build). */
const SOURCES = ["apps", "infra"];
const SKIP = new Set(["node_modules", "build", "web", "dist"]);
const KEEP_BUILDS = 3;
const PRUNE_AFTER_MS = 7 * 24 * 3600_000;

function tsFiles(dir, out = []) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!SKIP.has(entry.name)) tsFiles(path, out);
    } else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts")) out.push(path);
  }
  return out;
}

/** Builds `dist/<hash>/` when it does not exist yet; returns its path. */
export async function compiled() {
  const files = SOURCES.flatMap((d) => tsFiles(join(ROOT, d))).sort();
  const hash = createHash("sha256").update(esbuild.version);
  for (const f of files) {
    const s = statSync(f);
    hash.update(`${relative(ROOT, f)}\0${s.size}\0${s.mtimeMs}\n`);
  }
  const out = join(DIST, hash.digest("hex").slice(0, 16));
  if (existsSync(out)) return out;
  mkdirSync(DIST, { recursive: true });
  const tmp = `${out}.tmp-${process.pid}`;
  await esbuild.build({
    entryPoints: files,
    outdir: tmp,
    outbase: ROOT,
    format: "esm",
    platform: "node",
    target: "node20",
    bundle: false,
    logLevel: "error",
  });
  try {
    renameSync(tmp, out);
  } catch {
    rmSync(tmp, { recursive: true, force: true }); // another process won the race with the same build
  }
  const builds = readdirSync(DIST)
    .filter((n) => /^[0-9a-f]{16}$/.test(n))
    .map((n) => ({ n, t: statSync(join(DIST, n)).mtimeMs }))
    .sort((a, b) => b.t - a.t);
  // A process started from an older build may still be running and import lazily from it
  // (tracing's SDK, a respawned HTTP worker): a build goes only once it is old as well as not
  // among the newest few.
  for (const { n, t } of builds.slice(KEEP_BUILDS)) {
    if (Date.now() - t > PRUNE_AFTER_MS) rmSync(join(DIST, n), { recursive: true, force: true });
  }
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const entry = process.argv[2];
  if (!entry?.endsWith(".ts") || !existsSync(join(ROOT, entry))) {
    process.stderr.write(`usage: node infra/start.mjs <entry.ts under apps/ or infra/> (got ${entry ?? "nothing"})\n`);
    process.exit(1);
  }
  let dir;
  try {
    dir = await compiled();
  } catch (err) {
    process.stderr.write(`could not compile the sources for ${entry}: ${err.message}\n`);
    process.exit(1);
  }
  await import(pathToFileURL(join(dir, entry.replace(/\.ts$/, ".js"))).href);
}
