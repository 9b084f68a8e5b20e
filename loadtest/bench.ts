import { mkdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { reserveCeiling, writerThroughput } from "./ceilings.js";
import { startHarness, withDatabase } from "./harness.js";
import { LAYOUTS, type LayoutKind, startLayout } from "./layouts.js";
import { chart, table } from "./report.js";
import { runDrive } from "./run-drive.js";
import { accept, contention, crowd, crowdVerdicts, type Row, repeat, soldOut, warmUp } from "./scenarios.js";
import { memory, soak, spike } from "./twins.js";

/**
 * `npm run bench`: the platform against a bare Hono server (the box's HTTP ceiling) and a
 * MySQL-only shop, on the same machine and load generator in one run, so the ratios mean
 * something on a noisy 2-core box. Each platform layout is warmed up, then gets the four HTTP
 * scenarios, each flat out (paired with the bare server just before) and at half that rate;
 * the k6 twins run on the workers layout, the million-buyer memory check on a gateway process
 * of its own. Prints a table and the target verdicts, writes loadtest/results/bench.json and .svg.
 *
 * Knobs: BENCH_SECONDS (per run, default 8), BENCH_CONNECTIONS (100), BENCH_LAYOUTS
 * (one-process,workers,split), BENCH_MEMORY_USERS (1000000; 0 skips), BENCH_SOAK_SECONDS (20);
 * the crowd's BENCH_CROWD_BUYERS (20000), BENCH_CROWD_STOCK (1000), BENCH_CROWD_CONNECTIONS (200),
 * BENCH_FLOOD_SECONDS (10). `npm run bench:crowd` repeats the crowd alone and prints medians.
 */
const ROOT = fileURLToPath(new URL("../", import.meta.url));
const RESULTS = `${ROOT}loadtest/results/`;
const { prefix, stack, env, ctx, extraDbs, stop } = await startHarness("bench");
const layouts = (process.env.BENCH_LAYOUTS ?? "one-process,workers,split").split(",") as LayoutKind[];
const memoryUsers = Number(process.env.BENCH_MEMORY_USERS ?? 1_000_000);
const soakSeconds = Number(process.env.BENCH_SOAK_SECONDS ?? 20);
const TWINS_ON: LayoutKind = layouts.includes("workers") ? "workers" : layouts[0];
const ports = { baseline: new URL(ctx.baselineUrl).port, db: new URL(ctx.dbBaselineUrl).port };
const rows: Row[] = [];
const memoryChecks: { layout: string; before: number; after: number; users: number }[] = [];

try {
  const drive = { method: "POST" as const, durationS: ctx.durationS, connections: ctx.connections };

  // The bare server is measured again right before each layout, and that layout's ratios use
  // it: this machine's speed drifts over the minutes a full run takes.
  const baselines = new Map<string, Row>();
  const measureBaseline = async (layout: string) => {
    ctx.step(`baseline (before ${layout})`);
    const url = `http://127.0.0.1:${ports.baseline}/`;
    const peak = await runDrive({ ...drive, url });
    const rate = Math.round(peak.rps / 2);
    const half = await runDrive({ ...drive, url, rate });
    const row: Row = { scenario: "baseline", layout, ...peak, half: { rate, p99: half.p99 }, notes: ["bare Hono JSON handler"] };
    baselines.set(layout, row);
    rows.push(row);
    return row;
  };
  const base = await measureBaseline("-");

  ctx.step("db-baseline");
  await fetch(`http://127.0.0.1:${ports.db}/sales/${prefix}/stock/1000`, { method: "POST" });
  const db = await runDrive({ ...drive, url: `http://127.0.0.1:${ports.db}/sales/${prefix}/orders`, userHeader: true });
  rows.push({ scenario: "db-baseline", layout: "-", ...db, notes: ["one MySQL transaction per attempt, 1,000 stock"] });

  for (const kind of layouts) {
    await measureBaseline(kind);
    ctx.step(`starting layout ${kind}: ${LAYOUTS[kind]}`);
    const layout = await startLayout(kind, env);
    try {
      await warmUp(ctx, layout);
      const acceptRow = await accept(ctx, layout);
      const sold = await soldOut(ctx, layout);
      rows.push(acceptRow, sold.row, await repeat(ctx, layout), await contention(ctx, layout));
      const c = await crowd(ctx, layout);
      rows.push(c.crowd, c.flood);
      if (kind === TWINS_ON) {
        rows.push(await spike(ctx, layout, Math.round(acceptRow.rps)));
        rows.push(await soak(ctx, layout, Math.round(acceptRow.rps / 2), soakSeconds));
      }
      const rss = layout.gatewayRss().map((b) => `${Math.round(b / 1048576)} MB`);
      rows.find((r) => r.layout === kind && r.scenario === "accept")?.notes.push(`gateway RSS after this layout's runs: ${rss.join(", ")}`);
    } finally {
      await layout.stop();
    }
  }
  if (memoryUsers > 0) {
    // One gateway process alone in front of the API, so every buyer passes through the same maps.
    const layout = await startLayout("split", env, { gatewayWorkers: 1 });
    try {
      const m = await memory(ctx, layout, memoryUsers);
      memoryChecks.push({ layout: "split, 1 gateway process", before: m.before, after: m.after, users: memoryUsers });
      process.stderr.write(`  ${Math.round(m.rps)} req/s, answers ${JSON.stringify(m.statuses)}\n`);
    } finally {
      await layout.stop();
    }
  }
  const ratio = (r: Row) => r.rps / (r.pairedBaseline ?? (baselines.get(r.layout) ?? base).rps);
  for (const r of rows)
    r.ratio = `${ratio(r).toFixed(2)}x baseline${r.pairedBaseline ? ` (${Math.round(r.pairedBaseline).toLocaleString("en")}/s just before)` : ""}`;
  const dbRatio = (r: Row) => r.rps / (r.pairedDb ?? db.rps);
  for (const r of rows.filter((r) => r.scenario === "contention"))
    r.ratio += `, ${dbRatio(r).toFixed(1)}x db-baseline (${Math.round(r.pairedDb ?? db.rps).toLocaleString("en")}/s just before)`;

  ctx.step("reserve-ceiling");
  const ceiling = await reserveCeiling({
    redisUrl: stack.redisUrl ?? "redis://127.0.0.1:6379",
    prefix: `${prefix}:`,
    seconds: ctx.durationS,
  });
  rows.push({
    scenario: "reserve-ceiling",
    layout: "-",
    rps: ceiling.nodeOps,
    p50: 0,
    p99: 0,
    p999: 0,
    errors: 0,
    ratio: `${ceiling.ratio.toFixed(2)}x redis-benchmark (${Math.round(ceiling.benchOps).toLocaleString("en")} EVALSHA/s)`,
    notes: [
      `reserve-6.lua from Node, 1,024 concurrent callers, auto-pipelined over ${ceiling.connections} connections as the API does (REDIS_RESERVE_CONNECTIONS); ops/s, no HTTP; over one connection in the same run: ${Math.round(ceiling.nodeOpsOneConnection).toLocaleString("en")}/s`,
      `redis-benchmark running reserve-6.lua itself: ${Math.round(ceiling.scriptOps).toLocaleString("en")}/s, so Node reaches ${(ceiling.nodeOps / ceiling.scriptOps).toFixed(2)}x of what Redis can take of this script with no client cost; the rest of the gap to the trivial script is the script's own work in Redis`,
      `the same pipelined 16 deep: ${Math.round(ceiling.scriptPipelinedOps).toLocaleString("en")}/s, Redis's own capacity for this script (the ceiling every API instance together shares)`,
    ],
  });

  ctx.step("writer");
  extraDbs.push(`${prefix}_writer`);
  const writer = await writerThroughput({ databaseUrl: withDatabase(stack.databaseUrl, `${prefix}_writer`), rows: 50_000, throttle: 2000 });
  rows.push({
    scenario: "writer",
    layout: "-",
    rps: writer.unthrottled,
    p50: 0,
    p99: 0,
    p999: 0,
    errors: 0,
    ratio: `throttled at 2,000: ${Math.round(writer.throttled).toLocaleString("en")} rows/s (${(writer.throttleError * 100).toFixed(1)} % off)`,
    notes: ["rows/s into MariaDB, unthrottled (50,000 messages straight onto Kafka)"],
  });

  // --- verdicts --------------------------------------------------------------------------------
  const verdicts: { target: string; met: boolean; figure: string }[] = [];
  const verdict = (target: string, met: boolean, figure: string) => verdicts.push({ target, met, figure });
  for (const kind of layouts) {
    const of = (s: string) => rows.find((r) => r.layout === kind && r.scenario === s)!;
    verdict(`[${kind}] accept >= 0.20x baseline`, ratio(of("accept")) >= 0.2, ratio(of("accept")).toFixed(2));
    verdict(`[${kind}] sold-out >= 0.85x baseline`, ratio(of("sold-out")) >= 0.85, ratio(of("sold-out")).toFixed(2));
    verdict(`[${kind}] repeat >= 0.70x baseline`, ratio(of("repeat")) >= 0.7, ratio(of("repeat")).toFixed(2));
    for (const v of crowdVerdicts(of("crowd"), of("crowd flood"))) verdict(`[${kind}] ${v.target}`, v.met, v.figure);
    const con = of("contention");
    verdict(
      `[${kind}] contention >= 10x db-baseline, nothing oversold or lost`,
      dbRatio(con) >= 10 && con.errors === 0,
      `${dbRatio(con).toFixed(1)}x, ${con.errors === 0 ? "ledger clean" : "LEDGER BROKEN"}`,
    );
    const slow = rows.filter((r) => r.layout === kind && r.scenario !== "baseline" && r.half && r.half.p99 > 20);
    verdict(
      `[${kind}] p99 <= 20 ms at half of each scenario's peak rate`,
      slow.length === 0,
      `${slow.length ? slow.map((r) => `${r.scenario} ${r.half!.p99} ms`).join(", ") : "all within"}; the bare server's own p99 at half its peak: ${baselines.get(kind)?.half?.p99} ms`,
    );
  }
  verdict("reserve-ceiling >= 0.5x redis-benchmark", ceiling.ratio >= 0.5, ceiling.ratio.toFixed(2));
  verdict("writer >= 10,000 rows/s unthrottled", writer.unthrottled >= 10_000, Math.round(writer.unthrottled).toLocaleString("en"));
  verdict("writer throttle held within 5 %", writer.throttleError <= 0.05, `${(writer.throttleError * 100).toFixed(1)} %`);
  for (const m of memoryChecks) {
    const mb = (b: number) => `${Math.round(b / 1048576)} MB`;
    verdict(
      `[${m.layout}] gateway RSS < 200 MB after ${m.users.toLocaleString("en")} distinct buyers`,
      m.after < 200 * 1048576,
      `${mb(m.before)} before, ${mb(m.after)} after`,
    );
  }

  const report = [
    table(rows),
    "",
    ...layouts.map((k) => `- layout ${k}: ${LAYOUTS[k]}`),
    ...rows.map((r) => `- ${r.scenario}${r.layout === "-" ? "" : ` [${r.layout}]`}: ${r.notes.join("; ")}`),
    "",
    ...verdicts.map((v) => `- target ${v.target}: ${v.met ? "met" : "NOT met"} (${v.figure})`),
  ].join("\n");
  process.stdout.write(`\n${report}\n`);
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(
    `${RESULTS}bench.json`,
    JSON.stringify(
      { at: new Date().toISOString(), durationS: ctx.durationS, connections: ctx.connections, rows, verdicts, memoryChecks },
      null,
      2,
    ),
  );
  writeFileSync(`${RESULTS}bench.svg`, chart(rows));
  process.stderr.write(`wrote ${RESULTS}bench.json and bench.svg\n`);
} finally {
  await stop();
}
