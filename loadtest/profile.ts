// `npm run bench:profile [sold-out|accept|crowd]`: the platform under that load (200,000 buyers; crowd:
// 20,000 distinct buyers, one request each, against 1,000 units over 200 connections) with
// --cpu-prof; prints the functions with the most self time, then the most inclusive time. Note:
// the profile spans the whole process, so "(idle)" and module loading include start-up and the
// pause before the load: read the rest against each other.
// The .cpuprofile stays in /tmp/prof for a flame graph (Chrome DevTools, speedscope).
import { spawn } from "node:child_process";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { dropRedisPrefix } from "./ceilings.js";
import { runDrive } from "./run-drive.js";

rmSync("/tmp/prof", { recursive: true, force: true });
const PORT = Number(process.env.PORT ?? 3900);
const SCENARIO = (["accept", "crowd"] as const).find((s) => s === process.argv[2]) ?? "sold-out";
const PREFIX = `prof${Date.now()}:`;
const env = {
  ...process.env,
  PORT: String(PORT),
  LOG_LEVEL: "warn",
  REDIS_KEY_PREFIX: PREFIX,
  DATABASE_URL: "mysql://root@127.0.0.1:3306/seckill_bench_profile",
  MAX_INFLIGHT_PURCHASES: "100000",
  RECONCILE_INTERVAL_MS: "0",
};
const child = spawn(process.execPath, ["--cpu-prof", "--cpu-prof-dir=/tmp/prof", "--import", "tsx", "apps/platform/main.ts"], {
  env,
  stdio: "ignore",
});
const base = `http://127.0.0.1:${PORT}`;
for (let i = 0; i < 200; i++) {
  if (
    await fetch(`${base}/readyz`).then(
      (r) => r.ok,
      () => false,
    )
  )
    break;
  await new Promise((r) => setTimeout(r, 200));
}
const headers = { authorization: "Bearer dev-admin-token-change-me", "content-type": "application/json" };
const id = `prof-${Date.now()}`;
await fetch(`${base}/admin/sales`, {
  method: "POST",
  headers,
  body: JSON.stringify({
    id,
    title: "p",
    priceCents: 1,
    stock: { accept: 10_000_000, crowd: 1000, "sold-out": 1 }[SCENARIO],
    startsAt: new Date().toISOString(),
    endsAt: new Date(Date.now() + 3600e3).toISOString(),
  }),
});
await fetch(`${base}/admin/sales/${id}/preload?force=true`, { method: "POST", headers });
const secret = "dev-jwt-secret-change-me-0123456789abcdef";
const url = `${base}/api/sales/${id}/orders`;
// sold-out: sell the single unit, then profile the crowd that finds it sold out.
if (SCENARIO === "sold-out")
  await runDrive({ url, method: "POST", durationS: 1, connections: 1, amount: 2, users: { secret, prefix: "pfirst", count: 2 } });
const load =
  SCENARIO === "crowd"
    ? { durationS: 60, connections: 200, amount: 20_000, users: { secret, prefix: `pcr${Date.now()}`, count: 20_000 } }
    : { durationS: 6, connections: 100, users: { secret, prefix: "pso", count: 200_000 } };
console.log(JSON.stringify(await runDrive({ url, method: "POST", ...load })));
child.kill("SIGINT");
await new Promise((r) => child.once("exit", r));
await dropRedisPrefix("redis://127.0.0.1:6379", PREFIX);
const file = readdirSync("/tmp/prof").find((f) => f.endsWith(".cpuprofile"))!;
const prof = JSON.parse(readFileSync(`/tmp/prof/${file}`, "utf8")) as {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount: number; children?: number[] }[];
  samples: number[];
};
const name = (f: { functionName: string; url: string; lineNumber: number }) =>
  `${f.functionName || "(anon)"} ${f.url.replace(/.*node_modules\//, "nm/").replace(/.*\/work\/main\//, "")}:${f.lineNumber}`;
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const self = new Map<string, number>();
const inclusive = new Map<string, number>();
let busy = 0;
for (const n of prof.nodes) {
  self.set(name(n.callFrame), (self.get(name(n.callFrame)) ?? 0) + n.hitCount);
  if (["(idle)", "(program)", "(garbage collector)", "(root)"].includes(n.callFrame.functionName) || !n.hitCount) continue;
  busy += n.hitCount;
  const seen = new Set<string>();
  for (let id: number | undefined = n.id; id !== undefined; id = parent.get(id)) {
    const k = name(byId.get(id)!.callFrame);
    if (!seen.has(k)) inclusive.set(k, (inclusive.get(k) ?? 0) + n.hitCount);
    seen.add(k);
  }
}
const total = prof.samples.length;
console.log("\nself time, % of all samples (idle included):");
for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(((100 * v) / total).toFixed(1).padStart(5), k);
console.log("\ninclusive time, % of busy samples (start-up included):");
for (const [k, v] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(1, 50)) console.log(((100 * v) / busy).toFixed(1).padStart(5), k);
