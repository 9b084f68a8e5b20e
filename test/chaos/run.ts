import { mkdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { formatTable, SCENARIOS, type ScenarioResult, type Size } from "./scenarios.js";

/**
 * `npm run chaos [-- --short] [-- <scenario number>...]`: runs the fault scenarios against a
 * stack of their own, prints the table and writes loadtest/results/chaos.json. Exits 1 when a
 * scenario fails.
 */
const args = process.argv.slice(2);
const size: Size = args.includes("--short") ? "short" : "full";
const pick = args.filter((a) => /^\d$/.test(a));
const results: ScenarioResult[] = [];
for (const [name, run] of Object.entries(SCENARIOS)) {
  if (pick.length && !pick.includes(name[0])) continue;
  process.stderr.write(`running ${name} (${size})...\n`);
  const started = Date.now();
  try {
    results.push(await run(size));
  } catch (err) {
    results.push({
      scenario: name,
      accepted: 0,
      rows: 0,
      duplicates: 0,
      lost: 0,
      oversold: 0,
      recoverMs: 0,
      pass: false,
      notes: [`crashed: ${(err as Error).stack}`],
    });
  }
  process.stderr.write(`  done in ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
}
const table = formatTable(results);
process.stdout.write(`\n${table}\n`);
const dir = fileURLToPath(new URL("../../loadtest/results/", import.meta.url));
mkdirSync(dir, { recursive: true });
writeFileSync(`${dir}chaos-${size}.json`, JSON.stringify({ at: new Date().toISOString(), size, results }, null, 2));
process.exit(results.every((r) => r.pass) ? 0 : 1);
