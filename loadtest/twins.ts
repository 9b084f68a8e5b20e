import type { Layout } from "./layouts.js";
import { type DriveResult, runDrive } from "./run-drive.js";
import { adminClient, type BenchContext, ledger, type Row, toRow, users } from "./scenarios.js";

/**
 * Node twins of the k6 scripts that have no bench scenario of their own (sellout.js's twin is
 * the contention scenario), plus the gateway memory check: the same shape of load, where k6
 * cannot run.
 */
/** A twin's row: the drive's figures, plus one error when its ledger check failed. */
function rowOf(scenario: string, layout: Layout, r: DriveResult, notes: string[], failed: boolean): Row {
  const row = toRow(scenario, layout, r, notes);
  row.errors += failed ? 1 : 0;
  return row;
}

/** spike.js: the arrival rate climbs in four steps to `target` req/s, every request a new buyer. */
export async function spike(ctx: BenchContext, layout: Layout, target: number): Promise<Row> {
  ctx.step(`${layout.kind}: spike (k6 twin) to ${target} req/s`);
  const admin = adminClient(layout.admin, ctx.prefix);
  const sale = await admin.sale(10_000_000);
  const seconds = Math.max(2, Math.round(ctx.durationS / 2));
  const steps: DriveResult[] = [];
  for (const share of [0.25, 0.5, 0.75, 1]) {
    const rate = Math.round(target * share);
    steps.push(
      await runDrive({
        url: `${layout.base}/api/sales/${sale}/orders`,
        method: "POST",
        durationS: seconds,
        connections: ctx.connections,
        rate,
        users: users(ctx, `${layout.kind}-spike${share}`, rate * seconds + 1000),
      }),
    );
  }
  const check = ledger((await admin.settled(sale)).stats);
  const shown = steps.map((s) => `${Math.round(s.rps)}/s p99 ${s.p99} ms`).join(" -> ");
  return rowOf("spike (k6 twin)", layout, steps.at(-1)!, [`steps ${shown}`, check.note], !check.ok);
}

/** soak.js: a steady arrival rate for `seconds`, watching the handoff backlog. */
export async function soak(ctx: BenchContext, layout: Layout, rate: number, seconds: number): Promise<Row> {
  ctx.step(`${layout.kind}: soak (k6 twin) at ${rate} req/s for ${seconds} s`);
  const admin = adminClient(layout.admin, ctx.prefix);
  const sale = await admin.sale(10_000_000);
  let maxBacklog = 0;
  let watching = true;
  const watch = (async () => {
    while (watching) {
      const s = await admin.stats(sale).catch(() => null);
      if (s) maxBacklog = Math.max(maxBacklog, s.pendingHandoff, s.accepted - s.persisted);
      await new Promise((r) => setTimeout(r, 1000));
    }
  })();
  const r = await runDrive({
    url: `${layout.base}/api/sales/${sale}/orders`,
    method: "POST",
    durationS: seconds,
    connections: ctx.connections,
    rate,
    users: users(ctx, `${layout.kind}-soak`, rate * seconds + 1000),
  });
  watching = false;
  await watch;
  const check = ledger((await admin.settled(sale)).stats);
  return rowOf("soak (k6 twin)", layout, r, [`largest backlog (accepted, not yet in MySQL) ${maxBacklog}`, check.note], !check.ok);
}

/**
 * Gateway memory after `count` distinct buyers, each pressing once before the sale opens (the
 * crowd that arrives early): every request is authenticated, which is where per-buyer state
 * would pile up in the gateway (the verified-token cache, the memory of 409s), and answered 403
 * from the sale cache, so a million take a minute or two, not an hour. Limiter state lives in
 * Redis; its in-memory block holds only buyers blocked right now.
 */
export async function memory(ctx: BenchContext, layout: Layout, count: number) {
  ctx.step(`${layout.kind}: gateway memory after ${count.toLocaleString("en")} distinct buyers`);
  const sale = await adminClient(layout.admin, ctx.prefix).sale(1000, 24 * 3600_000);
  const before = Math.max(...layout.gatewayRss());
  const r = await runDrive({
    url: `${layout.base}/api/sales/${sale}/orders`,
    method: "POST",
    durationS: 0,
    connections: ctx.connections,
    amount: count,
    users: users(ctx, `${layout.kind}-million`, count),
  });
  const after = Math.max(...layout.gatewayRss());
  return { before, after, requests: r.total, rps: r.rps, statuses: r.statuses };
}
