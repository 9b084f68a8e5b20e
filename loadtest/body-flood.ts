// `npx tsx loadtest/body-flood.ts [--root DIR] [--chunked] [--workers N]`: what three parallel
// 50 MB bodies to POST /api/payments/callback (no credentials needed) do to the platform.
// Starts `npm start` (apps/platform/main.ts) from DIR (default: this checkout; point it at an
// older checkout to compare), waits until it is ready, samples the resident memory of its node
// processes every 50 ms and probes /healthz every 100 ms while the three uploads run, then
// prints: RSS at rest, peak RSS, the answers, the bytes each client got to send, and the
// slowest /healthz. Each upload stops sending once it has an answer, as curl does. Figures vary
// with the machine; nothing here asserts them.

import { createWriteStream, readFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import mysql from "mysql2/promise";
import { freePort, nodeChildren, spawnManaged, stopChild } from "../infra/processes.js";
import { dropRedisPrefix } from "./ceilings.js";

const args = process.argv.slice(2);
const option = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const root = resolve(option("--root") ?? ".");
const chunked = args.includes("--chunked");
const workers = option("--workers") ?? "1";
const UPLOADS = 3;
const SIZE = 50 * 1024 * 1024;
const CHUNK = 64 * 1024;

const id = `flood${Date.now()}`;
const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const mysqlRoot = process.env.DATABASE_URL ?? "mysql://root@127.0.0.1:3306/mysql";
const databaseUrl = Object.assign(new URL(mysqlRoot), { pathname: `/seckill_${id}` }).toString();
const port = await freePort();
const logFile = join(tmpdir(), `seckill-body-flood-${id}.log`);

// Through tsx from DIR itself (not infra/start.mjs, which builds this checkout): the same way for
// any checkout being compared.
const child = spawnManaged(process.execPath, ["--import", "tsx", "apps/platform/main.ts"], {
  cwd: root,
  stdio: ["ignore", "pipe", "pipe"],
  env: {
    ...process.env,
    PORT: String(port),
    HTTP_WORKERS: workers,
    LOG_LEVEL: "warn",
    REDIS_URL: redisUrl,
    DATABASE_URL: databaseUrl,
    REDIS_KEY_PREFIX: `${id}:`,
    RECONCILE_INTERVAL_MS: "0",
  },
});
const log = createWriteStream(logFile);
// Both into one file: it ends when the child closed, not when the first of the two ended (see spawnEntry).
child.stdout?.pipe(log, { end: false });
child.stderr?.pipe(log, { end: false });
child.once("close", () => log.end());
const base = `http://127.0.0.1:${port}`;

/** Resident memory of the platform's node processes (the primary and any HTTP workers), in MB. */
function rssMb(): number {
  let kb = 0;
  for (const pid of [child.pid!, ...nodeChildren(child.pid!)]) {
    try {
      kb += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
    } catch {
      // a worker that just exited
    }
  }
  return Math.round(kb / 1024);
}

function upload(): Promise<{ status: number; sentMb: number }> {
  return new Promise((done) => {
    let sent = 0;
    let answered = false;
    const headers: Record<string, string | number> = { "content-type": "application/json", "x-timestamp": "0", "x-signature": "00" };
    if (!chunked) headers["content-length"] = SIZE;
    const req = request(`${base}/api/payments/callback`, { method: "POST", headers });
    const result = (status: number) => done({ status, sentMb: Math.round((sent / 1024 / 1024) * 10) / 10 });
    req.on("response", (res) => {
      answered = true;
      res.resume();
      res.on("end", () => result(res.statusCode ?? 0));
    });
    req.on("error", () => result(answered ? -1 : 0));
    const chunk = Buffer.alloc(CHUNK, 32);
    const pump = () => {
      while (!answered && sent < SIZE) {
        sent += CHUNK;
        if (!req.write(chunk)) return void req.once("drain", pump);
      }
      if (!answered) req.end();
    };
    pump();
  });
}

try {
  for (let i = 0; ; i++) {
    if (
      await fetch(`${base}/readyz`).then(
        (r) => r.ok,
        () => false,
      )
    )
      break;
    if (i > 600 || child.exitCode !== null) throw new Error(`the platform did not start; see ${logFile}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  await new Promise((r) => setTimeout(r, 3000)); // let start-up settle
  const atRest = rssMb();
  let peak = atRest;
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssMb());
  }, 50);
  let slowestHealthz = 0;
  let probing = true;
  const prober = (async () => {
    while (probing) {
      const t = performance.now();
      await fetch(`${base}/healthz`).catch(() => null);
      slowestHealthz = Math.max(slowestHealthz, performance.now() - t);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const started = performance.now();
  const results = await Promise.all(Array.from({ length: UPLOADS }, upload));
  const seconds = (performance.now() - started) / 1000;
  await new Promise((r) => setTimeout(r, 1000)); // memory still held after the answers
  probing = false;
  await prober;
  clearInterval(sampler);
  console.log(
    JSON.stringify(
      {
        root,
        uploads: `${UPLOADS} x 50 MB to /api/payments/callback (${chunked ? "chunked" : "Content-Length"})`,
        httpWorkers: workers,
        rssAtRestMb: atRest,
        rssPeakMb: peak,
        answers: results.map((r) => r.status),
        sentMbPerUpload: results.map((r) => r.sentMb),
        uploadSeconds: Math.round(seconds * 100) / 100,
        slowestHealthzMs: Math.round(slowestHealthz),
      },
      null,
      2,
    ),
  );
} finally {
  await stopChild(child);
  const conn = await mysql.createConnection({ uri: mysqlRoot });
  await conn.query(`DROP DATABASE IF EXISTS \`seckill_${id}\``);
  await conn.end();
  await dropRedisPrefix(redisUrl, `${id}:`);
}
