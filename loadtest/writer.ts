import { writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { insertCeiling, writerThroughput } from "./ceilings.js";
import { withDatabase } from "./harness.js";

/**
 * `npm run bench:writer`: the order writer's unthrottled rows/s into MariaDB (writerThroughput:
 * WRITER_ROWS messages straight onto a Kafka mock, default 30,000) and how closely it holds
 * WRITER_THROTTLE rows/s (default 2,000), WRITER_RUNS times (default 3). Each run is paired
 * with a baseline measured just before it: the same number of rows with their outbox rows,
 * inserted by bare mysql2 in transactions of the writer's batch size, three in flight
 * (insertCeiling), i.e. what MariaDB itself takes on this box at that moment. Prints each run,
 * then the median and range of each figure; the writer/baseline ratio is the one that compares
 * across runs on a drifting machine.
 *
 * WRITER_PROFILE=<file.cpuprofile> also profiles the unthrottled part of each run (the
 * inspector, in this process: the writer runs here) and prints the functions with the most
 * self time and the self time per package. DATABASE_URL picks the server (default
 * mysql://root@127.0.0.1:3306); each run uses scratch databases of its own, dropped after.
 */
const RUNS = Number(process.env.WRITER_RUNS ?? 3);
const ROWS = Number(process.env.WRITER_ROWS ?? 30_000);
const THROTTLE = Number(process.env.WRITER_THROTTLE ?? 2000);
const BATCH = Number(process.env.ORDER_WRITER_BATCH_SIZE ?? 500);
const PROFILE = process.env.WRITER_PROFILE;
const server = process.env.DATABASE_URL ?? "mysql://root@127.0.0.1:3306";
const prefix = `bench_writer_${Date.now().toString(36)}`;

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
}

const profiles: Profile[] = [];
async function profiled<T>(work: () => Promise<T>): Promise<T> {
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: 500 });
  await session.post("Profiler.start");
  try {
    return await work();
  } finally {
    const { profile } = (await session.post("Profiler.stop")) as { profile: Profile };
    profiles.push(profile);
    session.disconnect();
  }
}

function packageOf(url: string): string {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1];
  if (url.startsWith("node:")) return "node";
  if (url.includes("/apps/")) return "apps";
  if (url === "") return "(native/GC/idle)";
  return "other";
}

function summarize(all: Profile[]): void {
  const self = new Map<string, number>();
  const perPackage = new Map<string, number>();
  let total = 0;
  for (const p of all) {
    const ms = (p.endTime - p.startTime) / 1000 / Math.max(1, p.samples.length);
    const byId = new Map(p.nodes.map((n) => [n.id, n]));
    const hits = new Map<number, number>();
    for (const s of p.samples) hits.set(s, (hits.get(s) ?? 0) + 1);
    for (const [id, n] of hits) {
      const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
      const key = `${functionName || "(anonymous)"} ${url.replace(/^.*node_modules\//, "").replace(/^file:\/\/.*\/(apps|loadtest)\//, "$1/")}:${lineNumber + 1}`;
      self.set(key, (self.get(key) ?? 0) + n * ms);
      const pkg = packageOf(url);
      perPackage.set(pkg, (perPackage.get(pkg) ?? 0) + n * ms);
      total += n * ms;
    }
  }
  const top = (m: Map<string, number>, n: number) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, v]) => `  ${((100 * v) / total).toFixed(1).padStart(5)} %  ${Math.round(v).toString().padStart(6)} ms  ${k}`)
      .join("\n");
  console.log(`\nprofile of the unthrottled parts (${Math.round(total)} ms sampled), self time per package:\n${top(perPackage, 12)}`);
  console.log(`\nfunctions with the most self time:\n${top(self, 25)}`);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (n: number) => Math.round(n).toLocaleString("en");

const runs: { writer: number; baseline: number; throttled: number; throttleError: number }[] = [];
console.log(
  `order writer, ${ROWS.toLocaleString("en")} rows unthrottled, then ${(THROTTLE * 10).toLocaleString("en")} at ${fmt(THROTTLE)} rows/s; ${RUNS} runs`,
);
for (let i = 0; i < RUNS; i++) {
  const baseline = await insertCeiling({
    databaseUrl: withDatabase(server, `${prefix}_base${i}`),
    rows: ROWS,
    batchSize: BATCH,
    concurrency: 3,
  });
  const w = await writerThroughput({
    databaseUrl: withDatabase(server, `${prefix}_w${i}`),
    rows: ROWS,
    throttle: THROTTLE,
    around: PROFILE ? profiled : undefined,
  });
  runs.push({ writer: w.unthrottled, baseline, throttled: w.throttled, throttleError: w.throttleError });
  console.log(
    `run ${i + 1}: writer ${fmt(w.unthrottled)} rows/s, bare mysql2 ${fmt(baseline)} rows/s (ratio ${(w.unthrottled / baseline).toFixed(2)}); throttled at ${fmt(THROTTLE)}: ${fmt(w.throttled)} rows/s (${(w.throttleError * 100).toFixed(1)} % off)`,
  );
}
const line = (name: string, xs: number[], f: (n: number) => string) =>
  console.log(`${name.padEnd(22)} median ${f(median(xs))}, range ${f(Math.min(...xs))} - ${f(Math.max(...xs))}`);
console.log("");
line(
  "writer rows/s",
  runs.map((r) => r.writer),
  fmt,
);
line(
  "bare mysql2 rows/s",
  runs.map((r) => r.baseline),
  fmt,
);
line(
  "writer / bare mysql2",
  runs.map((r) => r.writer / r.baseline),
  (n) => n.toFixed(2),
);
line(
  "throttle off by",
  runs.map((r) => r.throttleError * 100),
  (n) => `${n.toFixed(1)} %`,
);
if (PROFILE) {
  // One profile of the first run, for a flame graph (Chrome DevTools, speedscope); the summary covers all runs.
  writeFileSync(PROFILE, JSON.stringify(profiles[0]));
  summarize(profiles);
}
