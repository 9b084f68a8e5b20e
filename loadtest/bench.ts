import { createWriteStream, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import mysql from "mysql2/promise";
import { DEV_SECRETS } from "../apps/core/config.js";
import { freePort, spawnManaged, stopChild } from "../infra/processes.js";
import { dropRedisPrefix, reserveCeiling, writerThroughput } from "./ceilings.js";
import type { DriveSpec } from "./drive.js";
import { runDrive } from "./run-drive.js";

/**
 * `npm run bench`: the platform against a bare Hono server (the box's HTTP ceiling) and a
 * MySQL-only shop, on the same machine and load generator in one run, so the ratios mean
 * something on a noisy 2-core box. Prints a table, writes loadtest/results/bench.json and .svg.
 *
 * Not yet here (issue 6 continues): the split layout, p99 at half the peak rate, the memory
 * check after a million users.
 */
const ROOT = fileURLToPath(new URL("../", import.meta.url));
const RESULTS = `${ROOT}loadtest/results/`;
const ADMIN = DEV_SECRETS.ADMIN_TOKEN;
const SECRET = DEV_SECRETS.JWT_SECRET;
const DURATION = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 100);
const prefix = `bench${Date.now().toString(36)}`;

interface Row {
  scenario: string;
  rps: number;
  p50: number;
  p99: number;
  p999: number;
  errors: number;
  ratio?: string;
  notes: string[];
}

async function waitReady(url: string, ms = 120_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (
      await fetch(url).then(
        (r) => r.ok,
        () => false,
      )
    )
      return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} not ready`);
}

function drive(spec: DriveSpec): Row & { statuses: Record<string, number> } {
  return { scenario: "", notes: [], ...runDrive(spec) };
}

/** fetch with one retry on a socket error (a pooled connection closed under us). */
async function call(url: string, init?: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch {
    return fetch(url, init);
  }
}

const admin = (base: string) => ({
  async sale(stock: number): Promise<string> {
    const id = `${prefix}-${stock}-${Math.random().toString(36).slice(2, 8)}`;
    const now = Date.now();
    const headers = { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" };
    const body = JSON.stringify({
      id,
      title: "bench",
      priceCents: 100,
      stock,
      startsAt: new Date(now).toISOString(),
      endsAt: new Date(now + 6 * 3600_000).toISOString(),
    });
    const created = await call(`${base}/admin/sales`, { method: "POST", headers, body });
    if (created.status !== 201) throw new Error(`create sale: ${created.status} ${await created.text()}`);
    await call(`${base}/admin/sales/${id}/preload?force=true`, { method: "POST", headers });
    return id;
  },
  async stats(id: string): Promise<Record<string, number>> {
    return (await (await call(`${base}/admin/sales/${id}/stats`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as Record<
      string,
      number
    >;
  },
});

// --- servers ---------------------------------------------------------------------------------
const ports = { platform: await freePort(), baseline: await freePort(), db: await freePort() };
const env = {
  ...process.env,
  LOG_LEVEL: "warn",
  REDIS_KEY_PREFIX: `${prefix}:`,
  // A database of this run's own: the periodic reconcile would otherwise find earlier runs' sales.
  DATABASE_URL: `mysql://root@127.0.0.1:3306/${prefix}`,
  MAX_INFLIGHT_PURCHASES: "100000",
};
const platformLog = createWriteStream(`${tmpdir()}/seckill-bench-platform.log`);
const platform = spawnManaged(process.execPath, ["--import", "tsx", "apps/platform/main.ts"], {
  cwd: ROOT,
  env: { ...env, PORT: String(ports.platform) },
  stdio: ["ignore", "pipe", "pipe"],
});
platform.stdout?.pipe(platformLog);
platform.stderr?.pipe(platformLog);
const baseline = spawnManaged(process.execPath, ["--import", "tsx", "loadtest/servers/baseline.ts"], {
  cwd: ROOT,
  env: { ...env, PORT: String(ports.baseline) },
  stdio: "ignore",
});
const dbBaseline = spawnManaged(process.execPath, ["--import", "tsx", "loadtest/servers/db-baseline.ts"], {
  cwd: ROOT,
  env: { ...env, PORT: String(ports.db) },
  stdio: "ignore",
});
const base = `http://127.0.0.1:${ports.platform}`;
await Promise.all([
  waitReady(`${base}/readyz`),
  waitReady(`http://127.0.0.1:${ports.baseline}/`),
  waitReady(`http://127.0.0.1:${ports.db}/sales/x/stock/0`).catch(() => {}),
]);
const a = admin(base);
const rows: Row[] = [];
const run = (scenario: string, spec: Partial<DriveSpec> & { url: string }, notes: string[] = []) => {
  process.stderr.write(`${scenario}...\n`);
  const r = drive({ method: "POST", durationS: DURATION, connections: CONNECTIONS, ...spec });
  const row = { ...r, scenario, notes: [...notes, `answers ${JSON.stringify(r.statuses)}`] };
  rows.push(row);
  return row;
};

try {
  // --- scenarios -------------------------------------------------------------------------------
  const baselineRow = run("baseline", { url: `http://127.0.0.1:${ports.baseline}/` });

  const acceptSale = await a.sale(10_000_000);
  run("accept", { url: `${base}/api/sales/${acceptSale}/orders`, users: { secret: SECRET, prefix: `${prefix}-acc`, count: 200_000 } }, [
    "every buyer new, huge stock",
  ]);

  const soldSale = await a.sale(1);
  drive({
    url: `${base}/api/sales/${soldSale}/orders`,
    method: "POST",
    durationS: 1,
    connections: 1,
    amount: 2,
    users: { secret: SECRET, prefix: `${prefix}-first`, count: 2 },
  });
  run("sold-out", { url: `${base}/api/sales/${soldSale}/orders`, users: { secret: SECRET, prefix: `${prefix}-so`, count: 200_000 } }, [
    "answered from the gateway's memory",
  ]);

  const repeatSale = await a.sale(10_000_000);
  drive({
    url: `${base}/api/sales/${repeatSale}/orders`,
    method: "POST",
    durationS: 1,
    connections: 10,
    amount: 1000,
    users: { secret: SECRET, prefix: `${prefix}-rep`, count: 1000 },
  });
  run("repeat", { url: `${base}/api/sales/${repeatSale}/orders`, users: { secret: SECRET, prefix: `${prefix}-rep`, count: 1000 } }, [
    "1,000 buyers again and again: 409, then 429 from memory",
  ]);

  const contention = await a.sale(1000);
  const t0 = Date.now();
  let soldOutAt = 0;
  let persistedAt = 0;
  const watch = setInterval(async () => {
    const s = await a.stats(contention).catch(() => null);
    if (!s) return;
    if (!soldOutAt && s.remaining === 0) soldOutAt = Date.now() - t0;
    if (!persistedAt && s.persisted >= 1000) persistedAt = Date.now() - t0;
  }, 50);
  const contentionRow = run(
    "contention",
    { url: `${base}/api/sales/${contention}/orders`, users: { secret: SECRET, prefix: `${prefix}-con`, count: 200_000 } },
    ["1,000 stock vs 200,000 buyers"],
  );
  for (let i = 0; i < 200 && !persistedAt; i++) await new Promise((r) => setTimeout(r, 100));
  clearInterval(watch);
  const final = await a.stats(contention);
  contentionRow.notes.push(
    `sold out after ${soldOutAt} ms, all in MySQL after ${persistedAt} ms; accepted ${final.accepted}, persisted ${final.persisted}, oversold ${Math.max(0, final.persisted - 1000)}`,
  );

  await call(`http://127.0.0.1:${ports.db}/sales/${prefix}/stock/1000`, { method: "POST" });
  const dbRow = run("db-baseline", { url: `http://127.0.0.1:${ports.db}/sales/${prefix}/orders`, userHeader: true }, [
    "one MySQL transaction per attempt",
  ]);

  for (const r of rows) r.ratio = `${(r.rps / baselineRow.rps).toFixed(2)}x baseline`;

  process.stderr.write("reserve-ceiling...\n");
  const ceiling = await reserveCeiling({ redisUrl: "redis://127.0.0.1:6379", prefix: `${prefix}:`, seconds: DURATION });
  rows.push({
    scenario: "reserve-ceiling",
    rps: ceiling.nodeOps,
    p50: 0,
    p99: 0,
    p999: 0,
    errors: 0,
    ratio: `${ceiling.ratio.toFixed(2)}x redis-benchmark (${Math.round(ceiling.benchOps)} EVALSHA/s)`,
    notes: ["reserve-6.lua from Node, 256 concurrent callers, auto-pipelined; ops/s, no HTTP"],
  });

  process.stderr.write("writer...\n");
  const writer = await writerThroughput({ databaseUrl: `mysql://root@127.0.0.1:3306/${prefix}_writer`, rows: 50_000, throttle: 2000 });
  rows.push({
    scenario: "writer",
    rps: writer.unthrottled,
    p50: 0,
    p99: 0,
    p999: 0,
    errors: 0,
    ratio: `throttled at 2,000: ${Math.round(writer.throttled)} rows/s (${(writer.throttleError * 100).toFixed(1)} % off)`,
    notes: ["rows/s into MariaDB, unthrottled (50,000 messages straight onto Kafka)"],
  });
  contentionRow.ratio += `, ${(contentionRow.rps / dbRow.rps).toFixed(1)}x db-baseline`;

  // --- report --------------------------------------------------------------------------------
  const head = ["scenario", "req/s", "p50 ms", "p99 ms", "p99.9 ms", "errors", "ratio"];
  const lines = rows.map((r) => [
    r.scenario,
    Math.round(r.rps).toString(),
    String(r.p50),
    String(r.p99),
    String(r.p999),
    String(r.errors),
    r.ratio ?? "",
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (c: string[]) => `| ${c.map((x, i) => x.padEnd(widths[i])).join(" | ")} |`;
  const ratioOf = (name: string) => rows.find((r) => r.scenario === name)!.rps / baselineRow.rps;
  const targets = [
    ["accept >= 0.20x baseline", ratioOf("accept") >= 0.2, ratioOf("accept").toFixed(2)],
    ["sold-out >= 0.85x baseline", ratioOf("sold-out") >= 0.85, ratioOf("sold-out").toFixed(2)],
    ["repeat >= 0.70x baseline", ratioOf("repeat") >= 0.7, ratioOf("repeat").toFixed(2)],
    ["contention >= 10x db-baseline", contentionRow.rps / dbRow.rps >= 10, (contentionRow.rps / dbRow.rps).toFixed(1)],
    ["reserve-ceiling >= 0.5x redis-benchmark", ceiling.ratio >= 0.5, ceiling.ratio.toFixed(2)],
    ["writer >= 10,000 rows/s unthrottled", writer.unthrottled >= 10_000, Math.round(writer.unthrottled)],
    ["writer throttle held within 5 %", writer.throttleError <= 0.05, `${(writer.throttleError * 100).toFixed(1)} %`],
  ] as const;
  const report = [
    fmt(head),
    `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`,
    ...lines.map(fmt),
    "",
    ...rows.map((r) => `- ${r.scenario}: ${r.notes.join("; ")}`),
    "",
    ...targets.map(([t, ok, v]) => `- target ${t}: ${ok ? "met" : "NOT met"} (${v})`),
  ].join("\n");
  process.stdout.write(`\n${report}\n`);

  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(
    `${RESULTS}bench.json`,
    JSON.stringify({ at: new Date().toISOString(), durationS: DURATION, connections: CONNECTIONS, rows, targets }, null, 2),
  );
  writeFileSync(`${RESULTS}bench.svg`, chart(rows));
  process.stderr.write(`wrote ${RESULTS}bench.json and bench.svg\n`);
} finally {
  await Promise.all([stopChild(platform), stopChild(baseline), stopChild(dbBaseline)]);
  // This run's data goes: its Redis keys and its databases.
  await dropRedisPrefix("redis://127.0.0.1:6379", `${prefix}:`);
  const conn = await mysql.createConnection({ uri: "mysql://root@127.0.0.1:3306/" });
  await conn.query(`DROP DATABASE IF EXISTS \`${prefix}\``);
  await conn.end();
}

/** Throughput bars with p50/p99 written beside them. */
function chart(rs: Row[]): string {
  const max = Math.max(...rs.map((r) => r.rps));
  const barH = 28;
  const w = 760;
  const bars = rs
    .map((r, i) => {
      const y = 40 + i * (barH + 12);
      const len = Math.max(2, Math.round((r.rps / max) * 420));
      return `<text x="10" y="${y + 19}" font-size="13">${r.scenario}</text><rect x="120" y="${y}" width="${len}" height="${barH}" fill="#4a7bd0"/><text x="${128 + len}" y="${y + 19}" font-size="12">${Math.round(r.rps)} req/s · p50 ${r.p50} ms · p99 ${r.p99} ms</text>`;
    })
    .join("");
  const h = 60 + rs.length * (barH + 12);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif"><text x="10" y="22" font-size="15" font-weight="bold">seckill bench: throughput and latency per scenario</text>${bars}</svg>\n`;
}
