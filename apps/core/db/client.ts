import { drizzle, type MySql2Database } from "drizzle-orm/mysql2";
import { migrate } from "drizzle-orm/mysql2/migrator";
import mysql, { type Pool } from "mysql2/promise";
import { fromRoot } from "../paths.js";
import * as schema from "./schema/index.js";

/** The drizzle database; `$client` is its mysql2 pool, for a hot path that skips the query builder. */
export type Db = MySql2Database<typeof schema> & { $client: Pool };
export interface Database {
  pool: Pool;
  db: Db;
  close(): Promise<void>;
}

const CONNECT_TIMEOUT_MS = 10_000;

export const MIGRATIONS_DIR = fromRoot("apps/core/db/migrations/");

/** The database name in a mysql:// URL (the path). */
export function databaseName(url: string): string {
  const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ""));
  if (!/^[A-Za-z0-9_]+$/.test(name)) throw new Error(`DATABASE_URL must name a database of [A-Za-z0-9_] (got "${name}")`);
  return name;
}

export function createDatabase(url: string, poolSize = 10): Database {
  const pool = mysql.createPool({
    uri: url,
    connectionLimit: poolSize,
    // Timestamps are stored and read as UTC whatever the server's or the host's zone.
    timezone: "Z",
    dateStrings: false,
    enableKeepAlive: true,
    // A stopped server refuses at once (ECONNREFUSED); this bounds only a server too busy to
    // finish the handshake. 3 s was too short on a box with its cores saturated: pools failed
    // their connects (ETIMEDOUT) while MariaDB was merely slow.
    connectTimeout: CONNECT_TIMEOUT_MS,
  });
  pool.on("connection", (conn) => {
    conn.query("SET time_zone = '+00:00'");
  });
  const db = drizzle(pool, { schema, mode: "default" });
  return { pool, db, close: () => pool.end() };
}

/** True when MySQL answers a trivial query within `timeoutMs` (a stopped or hung server is false, never a hang). */
export async function databaseAnswers(database: Database, timeoutMs = 2000): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  const ping = database.pool.query("SELECT 1").then(
    () => true,
    () => false,
  );
  return Promise.race([ping, timeout]).finally(() => clearTimeout(timer));
}

/** Creates the URL's database if it does not exist (connects without selecting it). */
export async function ensureDatabase(url: string): Promise<void> {
  const name = databaseName(url);
  const u = new URL(url);
  u.pathname = "/";
  const conn = await mysql.createConnection({ uri: u.toString(), connectTimeout: CONNECT_TIMEOUT_MS });
  try {
    await conn.query(`CREATE DATABASE IF NOT EXISTS \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
  } finally {
    await conn.end();
  }
}

/**
 * Creates the database if needed and applies the committed drizzle-kit migrations. Safe to run
 * from several processes at once: a named lock makes them take turns, and drizzle's journal
 * table makes a second run a no-op. Another component with tables of its own in the same
 * database (e.g. apps/loyalty) passes its own migrations folder and journal table.
 */
export async function migrateDatabase(
  url: string,
  set: { folder: string; table: string } = { folder: MIGRATIONS_DIR, table: "__drizzle_migrations" },
): Promise<void> {
  await ensureDatabase(url);
  const database = createDatabase(url, 1);
  const lockName = `seckill_migrate_${databaseName(url)}`;
  const conn = await database.pool.getConnection();
  try {
    const [rows] = await conn.query("SELECT GET_LOCK(?, 60) AS got", [lockName]);
    if ((rows as { got: number }[])[0]?.got !== 1) throw new Error(`could not take the migration lock ${lockName} within 60 s`);
    try {
      await migrate(drizzle(conn, { schema, mode: "default" }), { migrationsFolder: set.folder, migrationsTable: set.table });
    } finally {
      await conn.query("SELECT RELEASE_LOCK(?)", [lockName]);
    }
  } finally {
    conn.release();
    await database.close();
  }
}
