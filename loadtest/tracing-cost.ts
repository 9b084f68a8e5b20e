import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import mysql from "mysql2/promise";
import { startStack } from "../infra/stack.js";
import { dropRedisPrefix } from "./ceilings.js";
import { startLayout } from "./layouts.js";
import { runDrive } from "./run-drive.js";
import { adminClient, type BenchContext, users } from "./scenarios.js";

/**
 * `npm run bench:tracing`: what tracing costs on the purchase path. The one-process platform is
 * started with tracing off (no OTEL_EXPORTER_OTLP_ENDPOINT) and on (exporting every span to an
 * OTLP/HTTP sink in this process), alternately, and each gets the same accept load (every buyer
 * new, a huge stock: the whole path, reserve, Kafka and the writer included) flat out. Off and on
 * alternate in ABBA order, so a drift of this machine's speed over the run does not read as a cost.
 * Prints each run and the medians. Besides throughput and latency, which on a shared box drift
 * with everything else running, it reports the platform process's CPU time per accepted order
 * (user + system from /proc, from the start of the load until every order is a row): the figure
 * that other load on the machine disturbs least.
 *
 * Knobs: TRACING_ROUNDS (2: off,on,on,off), TRACING_SECONDS (per run, 8), TRACING_CONNECTIONS
 * (50), TRACING_RATIO (OTEL_TRACES_SAMPLER_ARG of the "on" runs, 1 = every trace),
 * TRACING_COMPARE (`off,on`; `before,off` compares tracing off with the code before tracing
 * existed, checked out at TRACING_BEFORE_ROOT with its own node_modules).
 */
const rounds = Number(process.env.TRACING_ROUNDS ?? 2);
const seconds = Number(process.env.TRACING_SECONDS ?? 8);
const connections = Number(process.env.TRACING_CONNECTIONS ?? 50);
const ratio = process.env.TRACING_RATIO ?? "1";
const prefix = `trc${Date.now().toString(36)}`;
const ctx: BenchContext = {
  prefix,
  baselineUrl: "",
  dbBaselineUrl: "",
  bareNodeUrl: "",
  durationS: seconds,
  connections,
  step: (what) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${what}...\n`),
};

// The collector stand-in: takes every export and counts it (what it costs is the platform's side).
let exports = 0;
let exportedBytes = 0;
const sink = createServer((req, res) => {
  req.on("data", (c: Buffer) => {
    exportedBytes += c.length;
  });
  req.on("end", () => {
    exports++;
    res.writeHead(200, { "content-type": "application/json" }).end("{}");
  });
});
await new Promise<void>((r) => sink.listen(0, "127.0.0.1", r));
const endpoint = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`;

const stack = await startStack({ database: prefix, env: { REDIS_URL: process.env.REDIS_URL } });
const env = {
  ...process.env,
  LOG_LEVEL: "warn",
  REDIS_URL: stack.redisUrl,
  DATABASE_URL: stack.databaseUrl,
  KAFKA_BROKERS: stack.kafkaBrokers,
  REDIS_KEY_PREFIX: `${prefix}:`,
  MAX_INFLIGHT_PURCHASES: "100000",
  OTEL_EXPORTER_OTLP_ENDPOINT: undefined,
};

type Mode = "off" | "on" | "before";
const [modeA, modeB] = (process.env.TRACING_COMPARE ?? "off,on").split(",") as [Mode, Mode];
const beforeRoot = process.env.TRACING_BEFORE_ROOT;
if ((modeA === "before" || modeB === "before") && !beforeRoot) throw new Error("TRACING_COMPARE=before,... needs TRACING_BEFORE_ROOT");

/** CPU seconds (user + system) a process has used, from /proc/<pid>/stat. */
const TICKS_PER_S = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
function cpuSeconds(pid: number): number {
  // Fields after the command name (which may hold spaces, so split after its closing parenthesis).
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_S; // utime, stime (fields 14 and 15)
}

interface Run {
  mode: Mode;
  /** Platform CPU ms per accepted order. */
  cpuMs: number;
  rps: number;
  p50: number;
  p99: number;
  statuses: Record<string, number>;
}
const runs: Run[] = [];
try {
  const order: Mode[] = [];
  for (let i = 0; i < rounds; i++) order.push(...(i % 2 === 0 ? [modeA, modeB] : [modeB, modeA]));
  for (const [n, mode] of order.entries()) {
    ctx.step(`run ${n + 1}/${order.length}: tracing ${mode}`);
    const layout = await startLayout(
      "one-process",
      mode === "on" ? { ...env, OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_TRACES_SAMPLER_ARG: ratio } : env,
      { root: mode === "before" ? beforeRoot : undefined },
    );
    try {
      const admin = adminClient(layout.admin, prefix);
      const sale = await admin.sale(10_000_000);
      const url = `${layout.base}/api/sales/${sale}/orders`;
      // A warm-up so the run measures the path, not the JIT.
      await runDrive({ method: "POST", url, durationS: 3, connections, users: users(ctx, `warm${n}`, 50_000) });
      await admin.settled(sale);
      const before = await admin.stats(sale);
      const cpu0 = layout.pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
      const r = await runDrive({ method: "POST", url, durationS: seconds, connections, users: users(ctx, `run${n}`) });
      const after = (await admin.settled(sale)).stats;
      const cpu = layout.pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0) - cpu0;
      const orders = Math.max(1, after.accepted - before.accepted);
      runs.push({
        mode,
        cpuMs: Math.round((cpu * 1000 * 100) / orders) / 100,
        rps: Math.round(r.rps),
        p50: r.p50,
        p99: r.p99,
        statuses: r.statuses,
      });
    } finally {
      await layout.stop();
    }
  }
} finally {
  sink.close();
  await dropRedisPrefix(stack.redisUrl ?? "redis://127.0.0.1:6379", `${prefix}:`).catch(() => {});
  const conn = await mysql.createConnection({ uri: stack.databaseUrl.replace(/[^/]+$/, "") });
  await conn.query(`DROP DATABASE IF EXISTS \`${prefix}\``).finally(() => conn.end());
  await stack.stop();
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
process.stdout.write(`\ntracing cost, one-process layout, accept load, ${connections} connections, ${seconds} s per run\n`);
for (const r of runs)
  process.stdout.write(
    `  tracing ${r.mode.padEnd(6)}  ${r.cpuMs} CPU ms/order  ${r.rps} purchases/s  p50 ${r.p50} ms  p99 ${r.p99} ms  ${JSON.stringify(r.statuses)}\n`,
  );
const of = (mode: Mode, k: "rps" | "p99" | "cpuMs") => median(runs.filter((r) => r.mode === mode).map((r) => r[k]));
process.stdout.write(
  `median ${modeB}/${modeA}: CPU per order ${(of(modeB, "cpuMs") / of(modeA, "cpuMs")).toFixed(2)}x, throughput ${(of(modeB, "rps") / of(modeA, "rps")).toFixed(2)}x, p99 ${(of(modeB, "p99") / of(modeA, "p99")).toFixed(2)}x` +
    ` (sampling ratio ${ratio}; the sink took ${exports} exports, ${(exportedBytes / 1e6).toFixed(1)} MB)\n`,
);
