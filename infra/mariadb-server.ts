import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mysql from "mysql2/promise";
import { ensurePackages } from "./packages.js";
import { freePort, spawnManaged, stopChild, waitUntil } from "./processes.js";
import type { Provided } from "./stack.js";

export async function mysqlAnswers(url: string): Promise<boolean> {
  try {
    const conn = await mysql.createConnection({ uri: url, connectTimeout: 1000 });
    await conn.query("SELECT 1");
    await conn.end();
    return true;
  } catch {
    return false;
  }
}

const asRoot = () => process.getuid?.() === 0;

/**
 * MySQL for the platform: DATABASE_URL when given; else MariaDB already answering on
 * 127.0.0.1:3306 as root without a password; else a mariadbd of our own, its datadir in
 * `dataDir` (initialised on first use). Returns the server URL without a database; the caller
 * picks the database (`seckill`, or its own for tests).
 */
export async function provideMysql(opts: { url?: string; dataDir: string; reuseDefault: boolean; port?: number }): Promise<Provided> {
  if (opts.url) return { url: opts.url, source: "env", stop: async () => {} };
  const defaultUrl = "mysql://root@127.0.0.1:3306/";
  if (opts.reuseDefault && (await mysqlAnswers(defaultUrl))) return { url: defaultUrl, source: "reused", stop: async () => {} };

  ensurePackages(["mariadb-server"]);
  const datadir = join(opts.dataDir, "mariadb");
  const userArgs = asRoot() ? ["--user=root"] : [];
  if (!existsSync(join(datadir, "mysql"))) {
    mkdirSync(datadir, { recursive: true });
    execFileSync(
      "mariadb-install-db",
      ["--no-defaults", `--datadir=${datadir}`, "--auth-root-authentication-method=normal", "--skip-test-db", ...userArgs],
      { stdio: "ignore" },
    );
  }
  const port = opts.port ?? (await freePort());
  // The socket lives in the temp dir: unix socket paths are limited to 107 bytes.
  const socket = join(tmpdir(), `seckill-mariadb-${port}.sock`);
  const child = spawnManaged(
    "/usr/sbin/mariadbd",
    [
      "--no-defaults",
      `--datadir=${datadir}`,
      `--port=${port}`,
      "--bind-address=127.0.0.1",
      `--socket=${socket}`,
      `--pid-file=${join(datadir, "mariadbd.pid")}`,
      `--log-error=${join(datadir, "error.log")}`,
      "--skip-log-bin",
      "--innodb-buffer-pool-size=256M",
      "--max-connections=500",
      ...userArgs,
    ],
    { stdio: "ignore" },
  );
  const url = `mysql://root@127.0.0.1:${port}/`;
  await waitUntil(`mariadbd (log: ${join(datadir, "error.log")})`, () => mysqlAnswers(url), 60_000, child);
  return { url, source: "started", pid: child.pid, stop: () => stopChild(child, 30_000) };
}
