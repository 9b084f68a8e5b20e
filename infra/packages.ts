import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { commandExists } from "./processes.js";

/**
 * What the embedded stack needs from Debian, and how to tell each is present. A missing package
 * is installed with apt-get when running as root; otherwise the caller gets the exact command.
 */
export const DEBIAN_NEEDS = {
  "redis-server": () => commandExists("redis-server"),
  "mariadb-server": () => existsSync("/usr/sbin/mariadbd") && commandExists("mariadb-install-db"),
  "librdkafka-dev": () => existsSync("/usr/include/librdkafka/rdkafka_mock.h"),
  gcc: () => commandExists("gcc"),
  /** Only for the browser tests (test/browser), driven by playwright-core: never a browser download. */
  chromium: () => existsSync(CHROMIUM),
} as const;

/** Debian's Chromium, which the browser tests drive. */
export const CHROMIUM = "/usr/bin/chromium";

export type DebianPackage = keyof typeof DEBIAN_NEEDS;

export class MissingPackagesError extends Error {
  constructor(readonly packages: string[]) {
    super(
      `the embedded stack needs Debian packages that are not installed: ${packages.join(" ")}\n` +
        `Install them as root, then run the command again:\n  apt-get update && apt-get install -y ${packages.join(" ")}`,
    );
    this.name = "MissingPackagesError";
  }
}

let aptUpdated = false;

export function ensurePackages(
  needed: DebianPackage[],
  opts: { log?: (msg: string) => void; isRoot?: boolean; present?: (p: DebianPackage) => boolean } = {},
): void {
  const log = opts.log ?? console.error;
  const present = opts.present ?? ((p: DebianPackage) => DEBIAN_NEEDS[p]());
  const missing = needed.filter((p) => !present(p));
  if (missing.length === 0) return;
  if (!(opts.isRoot ?? process.getuid?.() === 0)) throw new MissingPackagesError(missing);
  log(`installing Debian packages: ${missing.join(" ")} (apt-get; first run only)`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  try {
    if (!aptUpdated) execFileSync("apt-get", ["update", "-qq"], { stdio: ["ignore", "ignore", "inherit"], env });
    aptUpdated = true;
    execFileSync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...missing], {
      stdio: ["ignore", "ignore", "inherit"],
      env,
    });
  } catch (err) {
    throw new Error(`apt-get could not install ${missing.join(" ")}: ${(err as Error).message}`);
  }
  const still = missing.filter((p) => !present(p));
  if (still.length > 0) throw new MissingPackagesError(still);
}
