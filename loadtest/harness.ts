import type { ChildProcess } from "node:child_process";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import mysql from "mysql2/promise";
import { freePort, spawnEntry, stopChild } from "../infra/processes.js";
import { startStack } from "../infra/stack.js";
import { dropRedisPrefix } from "./ceilings.js";
import { waitReady } from "./layouts.js";
import type { BenchContext } from "./scenarios.js";

const ROOT = fileURLToPath(new URL("../", import.meta.url));

export const withDatabase = (url: string, name: string) => Object.assign(new URL(url), { pathname: `/${name}` }).toString();

/**
 * What every bench script stands on: one stack (Redis and MariaDB reused from their default
 * ports with a key prefix and a database of this run's own, a Kafka mock of its own), the
 * platform's environment for it, and the reference servers (bare Hono, bare node:http, the
 * MySQL-only shop). `stop()` removes everything the run created, its databases in `extraDbs` too.
 */
export async function startHarness(name = "bench") {
  const prefix = `${name}${Date.now().toString(36)}`;
  const given = process.env.DATABASE_URL;
  const stack = await startStack({
    database: prefix,
    // A database of this run's own even where DATABASE_URL names one: the run drops it at the end.
    env: { REDIS_URL: process.env.REDIS_URL, DATABASE_URL: given ? withDatabase(given, prefix) : undefined },
  });
  const redisUrl = stack.redisUrl;
  if (!redisUrl) throw new Error("the bench measures one Redis server: unset REDIS_CLUSTER_NODES and REDIS_MODE");
  const env = {
    ...process.env,
    LOG_LEVEL: "warn",
    REDIS_URL: redisUrl,
    DATABASE_URL: stack.databaseUrl,
    KAFKA_BROKERS: stack.kafkaBrokers,
    REDIS_KEY_PREFIX: `${prefix}:`,
    MAX_INFLIGHT_PURCHASES: "100000",
  };
  const ports = { baseline: await freePort(), db: await freePort(), bareNode: await freePort() };
  const servers: ChildProcess[] = (["baseline", "db-baseline", "bare-node"] as const).map((server) =>
    spawnEntry(`loadtest/servers/${server}.ts`, {
      cwd: ROOT,
      env: { ...env, PORT: String({ baseline: ports.baseline, "db-baseline": ports.db, "bare-node": ports.bareNode }[server]) },
      logFile: `${tmpdir()}/seckill-bench-${server}.log`,
    }),
  );
  const ctx: BenchContext = {
    prefix,
    baselineUrl: `http://127.0.0.1:${ports.baseline}/`,
    bareNodeUrl: `http://127.0.0.1:${ports.bareNode}/`,
    dbBaselineUrl: `http://127.0.0.1:${ports.db}`,
    durationS: Number(process.env.BENCH_SECONDS ?? 8),
    connections: Number(process.env.BENCH_CONNECTIONS ?? 100),
    step: (what) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${what}...\n`),
  };
  const extraDbs: string[] = [];
  const stop = async () => {
    await Promise.all(servers.map((s) => stopChild(s)));
    await stack.stop();
    await dropRedisPrefix(redisUrl, `${prefix}:`);
    const conn = await mysql.createConnection({ uri: withDatabase(stack.databaseUrl, "") });
    for (const db of [prefix, ...extraDbs]) await conn.query(`DROP DATABASE IF EXISTS \`${db}\``);
    await conn.end();
  };
  try {
    await waitReady(ctx.baselineUrl);
    await waitReady(`${ctx.dbBaselineUrl}/healthz`);
    await waitReady(ctx.bareNodeUrl);
  } catch (err) {
    await stop();
    throw err;
  }
  return { prefix, stack, env, ctx, extraDbs, stop };
}
