import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import mysql from "mysql2/promise";
import { deleteByPrefix } from "../apps/core/redis.js";
import { freePort, stopChild } from "../infra/processes.js";
import { startStack } from "../infra/stack.js";
import { compiled } from "../infra/start.mjs";

/**
 * `npm run bench:startup`: spawn-to-ready of every component, run from its TypeScript source
 * through tsx (`node --import tsx apps/x/main.ts`) and from the ahead-of-time build
 * (`node infra/start.mjs apps/x/main.ts`, what `npm start` runs), alternating, on one warm stack
 * (Redis and MariaDB reused, a Kafka mock of this run's own). "Ready" is the component's own
 * `ready` log line (`until`: each awaited message, as a regular expression): its listener answers and its dependencies answered; for the order writer also
 * "order writer consuming" (it has joined its consumer group, which a Kafka broker delays by
 * `group.initial.rebalance.delay.ms`, 3 s by default and in the mock, for a group's first member).
 * Prints one line per component and mode: median and range of STARTUP_RUNS runs (default 5).
 */
const RUNS = Number(process.env.STARTUP_RUNS ?? 5);
const prefix = `startup${Date.now().toString(36)}`;
const stack = await startStack({ database: prefix, env: { REDIS_URL: process.env.REDIS_URL, DATABASE_URL: undefined } });
const base = {
  ...process.env,
  LOG_LEVEL: "info",
  REDIS_URL: stack.redisUrl,
  DATABASE_URL: stack.databaseUrl,
  KAFKA_BROKERS: stack.kafkaBrokers,
  REDIS_KEY_PREFIX: `${prefix}:`,
};

type Mode = "tsx" | "aot";
const COMPONENTS: { name: string; entry: string; env?: Record<string, string>; until: string[] }[] = [
  {
    name: "platform (npm start)",
    entry: "apps/platform/main.ts",
    until: ["ready", '[^"]*consumers joined their groups'],
  },
  { name: "api", entry: "apps/api/main.ts", until: ["ready"] },
  { name: "gateway", entry: "apps/gateway/main.ts", env: { API_URL: "http://127.0.0.1:9" }, until: ["ready"] },
  { name: "admin", entry: "apps/admin/main.ts", until: ["ready"] },
  { name: "lifecycle", entry: "apps/lifecycle/main.ts", until: ["ready"] },
  { name: "order writer", entry: "apps/order-writer/main.ts", until: ["ready"] },
];

/** Milliseconds from spawn to each of `until`'s log messages, in order. */
async function timeStart(mode: Mode, entry: string, extra: Record<string, string>, until: string[]): Promise<number[]> {
  const args = mode === "tsx" ? ["--import", "tsx", entry] : ["infra/start.mjs", entry];
  const t0 = performance.now();
  const group = `${prefix}-${Math.random().toString(36).slice(2)}`;
  const child = spawn(process.execPath, args, {
    // A group of its own each time: the first join of a group waits the broker's initial rebalance
    // delay (3 s); a rejoin after a member left waits out the rebalance instead (see the README).
    // Payments' group derives from the writer's; the loyalty ledger has its own (a reused one made every run after the first wait ~9 s).
    env: { ...base, ...extra, PORT: String(await freePort()), ORDER_WRITER_GROUP_ID: group, LOYALTY_GROUP_ID: `${group}-loyalty` },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const marks: number[] = [];
  let stderr = "";
  child.stderr.on("data", (d) => {
    stderr += d;
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${entry}: not ready in 60 s\n${stderr}`)), 60_000);
      child.once("exit", (code) => reject(new Error(`${entry} exited ${code} before ready\n${stderr}`)));
      createInterface({ input: child.stdout }).on("line", (line) => {
        if (!new RegExp(`"msg":"${until[marks.length]}"`).test(line)) return;
        marks.push(performance.now() - t0);
        if (marks.length === until.length) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  } finally {
    await stopChild(child, 5000);
  }
  return marks;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (xs: number[]) =>
  `${(median(xs) / 1000).toFixed(2)} s (${(Math.min(...xs) / 1000).toFixed(2)}-${(Math.max(...xs) / 1000).toFixed(2)})`;

try {
  // The build is timed apart: it happens once per change of the sources, not at every start.
  const buildStart = performance.now();
  await compiled();
  process.stdout.write(`ahead-of-time build ready in ${Math.round(performance.now() - buildStart)} ms\n`);
  process.stdout.write(`spawn-to-ready, median (range) of ${RUNS} runs, modes alternating\n`);
  for (const c of COMPONENTS) {
    const got: Record<Mode, number[][]> = { tsx: [], aot: [] };
    for (let i = 0; i < RUNS; i++) {
      for (const mode of ["tsx", "aot"] as Mode[]) got[mode].push(await timeStart(mode, c.entry, c.env ?? {}, c.until));
    }
    for (const mode of ["tsx", "aot"] as Mode[]) {
      const cols = c.until.map((u, k) => `${u.replace('[^"]*', "")}: ${fmt(got[mode].map((m) => m[k]))}`).join("; ");
      process.stdout.write(`${c.name.padEnd(22)} ${mode.padEnd(4)} ${cols}\n`);
    }
  }
} finally {
  const redis = new (await import("ioredis")).Redis(stack.redisUrl ?? "");
  await deleteByPrefix(redis, `${prefix}:`);
  await redis.quit();
  const conn = await mysql.createConnection({ uri: stack.databaseUrl.replace(/\/[^/]*$/, "/") });
  await conn.query(`DROP DATABASE IF EXISTS \`${prefix}\``);
  await conn.end();
  await stack.stop();
}
