import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The project root: the nearest folder above this module holding package.json. Found by walking
 * up rather than by a fixed `../..`, so the same code finds `lua/`, the migrations and the Kafka
 * launcher's source whether it runs from its .ts source (tsx, vitest) or from the ahead-of-time
 * build under `dist/` (`npm start`).
 */
function findRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, "package.json"))) return `${dir}/`;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

export const PROJECT_ROOT = findRoot(dirname(fileURLToPath(import.meta.url)));

/** An absolute path under the project root, e.g. `fromRoot("lua/")`. */
export const fromRoot = (path: string): string => `${PROJECT_ROOT}${path}`;
