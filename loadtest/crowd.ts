import { startHarness } from "./harness.js";
import { LAYOUTS, type LayoutKind, startLayout } from "./layouts.js";
import { CROWD_SHAPE, crowd, crowdVerdicts, type Row, warmUp } from "./scenarios.js";

/**
 * `npm run bench:crowd`: the crowd scenario alone, BENCH_REPEAT times (default 3) on each layout
 * of BENCH_LAYOUTS (default one-process,workers), each run paired with a bare node:http and a bare
 * Hono server just before it; prints every run, then the median and the range of each figure
 * (these machines drift 2x within minutes: one run is an anecdote). Shape: BENCH_CROWD_BUYERS,
 * BENCH_CROWD_STOCK, BENCH_CROWD_CONNECTIONS, BENCH_FLOOD_SECONDS (see scenarios.ts).
 * BENCH_BEFORE=<another checkout> also runs each layout from that checkout (npm ci'd), after this
 * one's, as "<layout> (before)": a before/after comparison in one session.
 */
const repeat = Number(process.env.BENCH_REPEAT ?? 3);
const before = process.env.BENCH_BEFORE;
const layouts = ((process.env.BENCH_LAYOUTS ?? "one-process,workers").split(",") as LayoutKind[]).flatMap((kind) => [
  { kind, root: undefined as string | undefined, label: kind as string },
  ...(before ? [{ kind, root: before, label: `${kind} (before)` }] : []),
]);
const h = await startHarness("crowd");
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const summary = (xs: number[], digits = 0) =>
  `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}-${Math.max(...xs).toFixed(digits)})`;
const lines: string[] = [];

try {
  for (const { kind, root, label } of layouts) {
    h.ctx.step(`starting layout ${label}: ${LAYOUTS[kind]}`);
    const layout = await startLayout(kind, h.env, { root });
    const runs: { crowd: Row; flood: Row }[] = [];
    try {
      await warmUp(h.ctx, layout);
      for (let i = 0; i < repeat; i++) {
        const r = await crowd(h.ctx, layout, `-${i}`);
        runs.push(r);
        const v = crowdVerdicts(r.crowd, r.flood);
        process.stdout.write(
          `[${label} #${i + 1}] crowd ${Math.round(r.crowd.rps)}/s (${v[0].figure}x node:http), 202 p99 ${v[1].figure}, flood ${Math.round(r.flood.rps)}/s (${v[3].figure}x); ${r.crowd.notes.slice(1).join("; ")}\n`,
        );
      }
    } finally {
      await layout.stop();
    }
    const f = (get: (r: { crowd: Row; flood: Row }) => number, digits = 0) => summary(runs.map(get), digits);
    lines.push(
      `| ${label} | ${f((r) => r.crowd.rps)} | ${f((r) => r.crowd.rps / r.crowd.pairedNode!, 2)} | ${f((r) => r.crowd.rps / r.crowd.pairedBaseline!, 2)} | ${f((r) => r.crowd.accepted?.p50 ?? Number.NaN, 1)} | ${f((r) => r.crowd.accepted?.p99 ?? Number.NaN, 1)} | ${f((r) => r.crowd.pairedNodeP99 ?? Number.NaN)} | ${f((r) => r.flood.rps)} | ${f((r) => r.flood.rps / r.flood.pairedNode!, 2)} | ${runs.every((r) => r.crowd.errors === 0) ? "clean" : "BROKEN"} |`,
    );
  }
  const { buyers, stock, connections, floodSeconds } = CROWD_SHAPE;
  process.stdout.write(
    [
      "",
      `crowd: ${buyers} distinct buyers, ${stock} units, ${connections} connections (${CROWD_SHAPE.cold ? "opened with the crowd" : "open before it, as the storefront's polling leaves them"}), then ${floodSeconds} s of sold-out flood; median (min-max) of ${repeat} runs`,
      "| layout | crowd req/s | x node:http | x Hono | 202 p50 ms | 202 p99 ms | node:http p99 ms | flood req/s | flood x node:http | ledger |",
      "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
      ...lines,
      "",
    ].join("\n"),
  );
} finally {
  await h.stop();
}
