// `npm run bench:profile [sold-out|accept|crowd]`: the platform under that load (200,000 buyers; crowd:
// 20,000 distinct buyers, one request each, against 1,000 units over 200 connections) with
// --cpu-prof; prints the functions with the most self time, then the most inclusive time. Note:
// only the samples taken while the load ran are counted (V8's profile clock and
// process.hrtime are both CLOCK_MONOTONIC), so start-up and the pauses around the load are left out;
// for the crowd, the selling phase (up to the last 202) is also reported alone.
// The .cpuprofile stays in a directory of the run's own (/tmp/seckill-prof-*, printed at the end)
// for a flame graph (Chrome DevTools, speedscope): runs on a shared box never delete each other's.
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dropRedisPrefix } from "./ceilings.js";
import { benchLabels, sampleCpu } from "./cpu-by-process.js";
import { runDrive } from "./run-drive.js";

const PROF_DIR = mkdtempSync(join(tmpdir(), "seckill-prof-"));
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
const child = spawn(process.execPath, ["--cpu-prof", `--cpu-prof-dir=${PROF_DIR}`, "--import", "tsx", "apps/platform/main.ts"], {
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
// As the bench does (scenarios.ts warmUp): a throwaway load on a sale of its own first, so the profile
// shows the purchase path compiled, not V8's first passes over it. PROFILE_COLD=1 profiles it cold.
if (!process.env.PROFILE_COLD) {
  const warm = `prof-warm-${Date.now()}`;
  await fetch(`${base}/admin/sales`, {
    method: "POST",
    headers,
    body: JSON.stringify({
      id: warm,
      title: "w",
      priceCents: 1,
      stock: 5000,
      startsAt: new Date().toISOString(),
      endsAt: new Date(Date.now() + 3600e3).toISOString(),
    }),
  });
  await fetch(`${base}/admin/sales/${warm}/preload?force=true`, { method: "POST", headers });
  await runDrive({
    url: `${base}/api/sales/${warm}/orders`,
    method: "POST",
    durationS: 60,
    connections: 100,
    amount: 20_000,
    users: { secret, prefix: `pwarm${Date.now()}`, count: 20_000 },
  });
  await new Promise((r) => setTimeout(r, 3000));
}
const cpu = sampleCpu(benchLabels([child.pid!]));
const result = await runDrive({ url, method: "POST", ...load });
cpu.stop();
console.log(JSON.stringify(result));
// The generator's own start-up (signing tokens) is not load: the window opens at its first request
// (epoch ms, mapped onto the monotonic clock of the profile).
const monotonicUs = (epochMs: number) => process.hrtime.bigint() / 1000n - BigInt(Math.round((Date.now() - epochMs) * 1000));
const loadFrom = monotonicUs(result.startedAt);
const loadTo = loadFrom + BigInt(Math.round((result.total / result.rps) * 1e6));
child.kill("SIGINT");
await new Promise((r) => child.once("exit", r));
await dropRedisPrefix("redis://127.0.0.1:6379", PREFIX);
const file = readdirSync(PROF_DIR).find((f) => f.endsWith(".cpuprofile"))!;
const prof = JSON.parse(readFileSync(join(PROF_DIR, file), "utf8")) as Profile;
console.log(`profile: ${join(PROF_DIR, file)}`);
const windows: [string, bigint, bigint][] = [["the whole load", loadFrom, loadTo]];
// The crowd's selling phase: from the first request to the last 202.
if (SCENARIO === "crowd" && result.last2xxMs)
  windows.push([`the selling phase (first ${result.last2xxMs} ms)`, loadFrom, loadFrom + BigInt(Math.round(result.last2xxMs * 1000))]);
for (const [title, from, to] of windows) report(prof, from, to, title);
for (const [title, from, to] of windows) {
  const ms = Number(to - from) / 1000;
  const rows = cpu.between(from, to);
  const answered = title === "the whole load" ? result.total : result.answersByLast2xx;
  console.log(
    `\nCPU by process over ${title} (${ms.toFixed(0)} ms of wall time, 2 cores = ${(2 * ms).toFixed(0)} CPU ms; ${answered} answers):`,
  );
  for (const r of rows)
    console.log(
      `${r.cpuMs.toFixed(0).padStart(7)} ms  ${((100 * r.cpuMs) / ms).toFixed(0).padStart(4)} % of a core  ${((1000 * r.cpuMs) / (answered ?? Number.NaN)).toFixed(0).padStart(5)} µs per answer  ${r.label}`,
    );
}

interface Frame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface Profile {
  nodes: { id: number; callFrame: Frame; hitCount: number; children?: number[] }[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
}

/** Prints self and inclusive time of the samples taken between `from` and `to` (µs, CLOCK_MONOTONIC). */
function report(prof: Profile, from: bigint, to: bigint, title: string) {
  const hits = new Map<number, number>();
  let at = BigInt(prof.startTime);
  prof.samples.forEach((id, i) => {
    at += BigInt(prof.timeDeltas[i]);
    if (at >= from && at <= to) hits.set(id, (hits.get(id) ?? 0) + 1);
  });
  const name = (f: Frame) =>
    `${f.functionName || "(anon)"} ${f.url.replace(/.*node_modules\//, "nm/").replace(/.*\/work\/[^/]+\/(?:[^/]+\/)?apps\//, "apps/")}:${f.lineNumber}`;
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let busy = 0;
  for (const n of prof.nodes) {
    const count = hits.get(n.id) ?? 0;
    self.set(name(n.callFrame), (self.get(name(n.callFrame)) ?? 0) + count);
    if (["(idle)", "(program)", "(garbage collector)", "(root)"].includes(n.callFrame.functionName) || !count) continue;
    busy += count;
    const seen = new Set<string>();
    for (let id: number | undefined = n.id; id !== undefined; id = parent.get(id)) {
      const k = name(byId.get(id)!.callFrame);
      if (!seen.has(k)) inclusive.set(k, (inclusive.get(k) ?? 0) + count);
      seen.add(k);
    }
  }
  // Each busy sample's owner: the nearest of our components above it (apps/<component>), else the
  // nearest package (mysql2 answering a query, kafkajs encoding a batch), else Node itself.
  const owners = new Map<string, number>();
  for (const n of prof.nodes) {
    const count = hits.get(n.id) ?? 0;
    if (!count || ["(idle)", "(program)", "(root)"].includes(n.callFrame.functionName)) continue;
    let owner = n.callFrame.functionName === "(garbage collector)" ? "(garbage collector)" : "";
    let pkg = "";
    for (let id: number | undefined = n.id; id !== undefined && !owner; id = parent.get(id)) {
      const url = byId.get(id)!.callFrame.url;
      const app = /\/apps\/([^/]+)\//.exec(url)?.[1];
      if (app) owner = `apps/${app}`;
      else if (!pkg) pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1] ?? "";
    }
    owner ||= pkg ? `nm/${pkg}` : "node (http, net, streams, timers)";
    owners.set(owner, (owners.get(owner) ?? 0) + count);
  }
  const total = [...hits.values()].reduce((a, b) => a + b, 0);
  console.log(`\n== ${title}: busy samples by owner (nearest component of ours above the sample, else package) ==`);
  for (const [k, v] of [...owners].sort((a, b) => b[1] - a[1]).slice(0, 16)) console.log(((100 * v) / busy).toFixed(1).padStart(5), k);
  console.log(`\n== ${title}: ${total} samples ==\nself time, % of all samples (idle included):`);
  for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(((100 * v) / total).toFixed(1).padStart(5), k);
  console.log("\ninclusive time, % of busy samples:");
  for (const [k, v] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(1, 50)) console.log(((100 * v) / busy).toFixed(1).padStart(5), k);
}
