import { mkdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { cpuHogsFromArgs, startCpuHogs } from "./cpu-hog.js";
import { crashedResult, formatTable, SCENARIOS, type ScenarioResult, type Size } from "./scenarios.js";

/**
 * `npm run chaos [-- --short] [-- --cpu-hog[=N]] [-- <scenario number>...]`: runs the fault
 * scenarios against a stack of their own, prints the table and writes
 * loadtest/results/chaos-<size>.json. `--cpu-hog` keeps every core busy (N busy-loop processes,
 * default one per core) for the whole run. Exits 1 when a scenario fails.
 */
const args = process.argv.slice(2);
const size: Size = args.includes("--short") ? "short" : "full";
const pick = args.filter((a) => /^\d+$/.test(a));
const hogCount = cpuHogsFromArgs(args);
const hogs = hogCount > 0 ? startCpuHogs(hogCount) : undefined;
if (hogs) process.stderr.write(`${hogs.count} CPU hog(s) running for the whole run\n`);
const results: ScenarioResult[] = [];
for (const [name, run] of Object.entries(SCENARIOS)) {
  if (pick.length && !pick.includes(name.split(" ")[0])) continue;
  process.stderr.write(`running ${name} (${size})...\n`);
  const started = Date.now();
  try {
    results.push(await run(size));
  } catch (err) {
    results.push(crashedResult(name, err));
  }
  process.stderr.write(`  done in ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
}
await hogs?.stop();
const table = formatTable(results);
process.stdout.write(`\n${table}\n`);
const dir = fileURLToPath(new URL("../../loadtest/results/", import.meta.url));
mkdirSync(dir, { recursive: true });
writeFileSync(`${dir}chaos-${size}.json`, JSON.stringify({ at: new Date().toISOString(), size, cpuHogs: hogCount, results }, null, 2));
process.exit(results.every((r) => r.pass) ? 0 : 1);
