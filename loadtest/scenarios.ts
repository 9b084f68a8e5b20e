import { DEV_SECRETS } from "../apps/core/config.js";
import type { DriveSpec } from "./drive.js";
import type { Layout } from "./layouts.js";
import { type DriveResult, runDrive } from "./run-drive.js";

/**
 * The bench's HTTP scenarios against one layout of the platform. Each runs twice: flat out (the
 * peak), then at half that rate, where the p99 target applies (a platform is run below its peak;
 * the latency there is what buyers see).
 */
const SECRET = DEV_SECRETS.JWT_SECRET;
const ADMIN = DEV_SECRETS.ADMIN_TOKEN;
export const CROWD = 200_000;

export interface Row {
  scenario: string;
  layout: string;
  rps: number;
  p50: number;
  p99: number;
  p999: number;
  errors: number;
  /** p99 (ms) when driven at half the peak rate, that rate, and how late the generator sent (p99 ms). */
  half?: { rate: number; p99: number; senderLateP99?: number };
  /** req/s of the bare server driven the same way (same buyers' tokens) just before the peak run. */
  pairedBaseline?: number;
  /** contention only: req/s of the MySQL-only shop selling the same 1,000 units just before. */
  pairedDb?: number;
  /** crowd only: req/s of a bare node:http server driven the same way just before. */
  pairedNode?: number;
  /** crowd only: p99 (ms) of that bare node:http run, every answer: the floor of the box under the same crowd. */
  pairedNodeP99?: number;
  /** crowd only: latency (ms) of the winners' 202s, apart from the refusals. */
  accepted?: { p50: number | null; p99: number | null };
  ratio?: string;
  notes: string[];
}

export interface BenchContext {
  prefix: string;
  /** The bare Hono server: each scenario's peak is paired with a run against it just before. */
  baselineUrl: string;
  /** A bare node:http server: the crowd is paired with it too (the floor of an HTTP answer here). */
  bareNodeUrl: string;
  /** The MySQL-only shop: the contention scenario is paired with a run against it just before. */
  dbBaselineUrl: string;
  durationS: number;
  connections: number;
  /** Announces progress on stderr. */
  step(what: string): void;
}

/** fetch with one retry on a socket error (a pooled connection closed under us). */
async function call(url: string, init?: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch {
    return fetch(url, init);
  }
}

export interface SaleStats {
  totalStock: number;
  remaining: number;
  accepted: number;
  persisted: number;
  pendingHandoff: number;
}

export function adminClient(base: string, prefix: string) {
  const headers = { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" };
  return {
    /** Creates and preloads a sale, open now unless `startsInMs` says later. */
    async sale(stock: number, startsInMs = 0): Promise<string> {
      const id = `${prefix}-${stock}-${Math.random().toString(36).slice(2, 8)}`;
      const now = Date.now() + startsInMs;
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
      const loaded = await call(`${base}/admin/sales/${id}/preload?force=true`, { method: "POST", headers });
      if (loaded.status !== 200) throw new Error(`preload: ${loaded.status} ${await loaded.text()}`);
      return id;
    },
    async stats(id: string): Promise<SaleStats> {
      const res = await call(`${base}/admin/sales/${id}/stats`, { headers });
      if (res.status !== 200) throw new Error(`stats: ${res.status}`);
      return (await res.json()) as SaleStats;
    },
    /** Waits until every accepted order of the sale is in MySQL; returns the final stats and when that happened (epoch ms). */
    async settled(id: string, timeoutMs = 60_000): Promise<{ stats: SaleStats; at: number }> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const stats = await this.stats(id);
        if (stats.persisted >= stats.accepted || Date.now() > deadline) return { stats, at: Date.now() };
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

/** The invariants a scenario must keep, as a note: nothing oversold, nothing lost. */
export function ledger(stats: SaleStats): { ok: boolean; note: string } {
  const oversold = Math.max(0, stats.accepted - stats.totalStock);
  const lost = stats.accepted - stats.persisted;
  const conserved = stats.remaining + stats.accepted === stats.totalStock;
  return {
    ok: oversold === 0 && lost === 0 && conserved,
    note: `accepted ${stats.accepted}, persisted ${stats.persisted}, oversold ${oversold}, lost ${lost}, remaining + accepted = stock: ${conserved}`,
  };
}

export const users = (ctx: BenchContext, tag: string, count = CROWD) => ({ secret: SECRET, prefix: `${ctx.prefix}-${tag}`, count });

export function toRow(scenario: string, layout: Layout, r: DriveResult, notes: string[]): Row {
  return {
    scenario,
    layout: layout.kind,
    rps: r.rps,
    p50: r.p50,
    p99: r.p99,
    p999: r.p999,
    errors: r.errors,
    notes: [...notes, `answers ${JSON.stringify(r.statuses)}`],
  };
}

/**
 * Runs a scenario flat out, then at half that rate (with a fresh spec: new buyers or a new sale
 * where needed). Right before the peak, the bare server is driven with the same generator
 * settings and the same tokens (so the generator does the same work per request): the speed of
 * these machines drifts within minutes, and a ratio means something only against a neighbour.
 */
async function peakAndHalf(
  ctx: BenchContext,
  layout: Layout,
  scenario: string,
  spec: (phase: "peak" | "half") => Promise<Partial<DriveSpec> & { url: string }>,
  notes: string[],
): Promise<{ row: Row; peak: DriveResult }> {
  ctx.step(`${layout.kind}: ${scenario}`);
  const base = { method: "POST" as const, durationS: ctx.durationS, connections: ctx.connections };
  const peakSpec = await spec("peak");
  const paired = await runDrive({ ...base, url: ctx.baselineUrl, users: peakSpec.users });
  const peak = await runDrive({ ...base, ...peakSpec });
  const row = toRow(scenario, layout, peak, notes);
  row.pairedBaseline = paired.rps;
  const rate = Math.max(1, Math.round(peak.rps / 2));
  const half = await runDrive({ ...base, ...(await spec("half")), rate });
  row.half = { rate, p99: half.p99, senderLateP99: half.senderLateP99 };
  return { row, peak };
}

/** A few seconds of every path on a fresh layout, so the first scenario does not measure the JIT. */
export async function warmUp(ctx: BenchContext, layout: Layout): Promise<void> {
  ctx.step(`${layout.kind}: warm-up`);
  const admin = adminClient(layout.admin, ctx.prefix);
  const open = await admin.sale(10_000_000);
  const gone = await admin.sale(1);
  const drive = { method: "POST" as const, durationS: 3, connections: ctx.connections };
  await runDrive({ ...drive, url: `${layout.base}/api/sales/${open}/orders`, users: users(ctx, `${layout.kind}-warm`, 50_000) });
  await runDrive({ ...drive, url: `${layout.base}/api/sales/${gone}/orders`, users: users(ctx, `${layout.kind}-warm2`, 50_000) });
  await admin.settled(open);
}

export async function accept(ctx: BenchContext, layout: Layout): Promise<Row> {
  const admin = adminClient(layout.admin, ctx.prefix);
  const sale = await admin.sale(10_000_000);
  const { row } = await peakAndHalf(
    ctx,
    layout,
    "accept",
    async (phase) => ({ url: `${layout.base}/api/sales/${sale}/orders`, users: users(ctx, `${layout.kind}-acc-${phase}`) }),
    ["every buyer new, huge stock"],
  );
  row.notes.push(ledger((await admin.settled(sale)).stats).note);
  return row;
}

export async function soldOut(ctx: BenchContext, layout: Layout): Promise<{ row: Row; sale: string }> {
  const admin = adminClient(layout.admin, ctx.prefix);
  const sale = await admin.sale(1);
  const url = `${layout.base}/api/sales/${sale}/orders`;
  await runDrive({ url, method: "POST", durationS: 1, connections: 1, amount: 2, users: users(ctx, `${layout.kind}-first`, 2) });
  const { row } = await peakAndHalf(ctx, layout, "sold-out", async () => ({ url, users: users(ctx, `${layout.kind}-so`) }), [
    "answered from the gateway's memory",
  ]);
  return { row, sale };
}

export async function repeat(ctx: BenchContext, layout: Layout): Promise<Row> {
  const admin = adminClient(layout.admin, ctx.prefix);
  const sale = await admin.sale(10_000_000);
  const url = `${layout.base}/api/sales/${sale}/orders`;
  const crowd = users(ctx, `${layout.kind}-rep`, 1000);
  await runDrive({ url, method: "POST", durationS: 1, connections: 10, amount: 1000, users: crowd });
  const { row } = await peakAndHalf(ctx, layout, "repeat", async () => ({ url, users: crowd }), [
    "1,000 buyers again and again: 409, then 429 from memory",
  ]);
  return row;
}

/** The real sale: 1,000 units against 200,000 buyers; also how long until sold out and until all of it is in MySQL. */
export async function contention(ctx: BenchContext, layout: Layout): Promise<Row> {
  const admin = adminClient(layout.admin, ctx.prefix);
  const sales: string[] = [];
  let allPersistedAt = 0;
  let watching = true;
  const watch = async (sale: string) => {
    while (watching && !allPersistedAt) {
      const s = await admin.stats(sale).catch(() => null);
      if (s && s.persisted >= s.totalStock) allPersistedAt = Date.now();
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const dbSale = `${ctx.prefix}-db-${layout.kind}`;
  await fetch(`${ctx.dbBaselineUrl}/sales/${dbSale}/stock/1000`, { method: "POST" });
  const db = await runDrive({
    method: "POST",
    durationS: ctx.durationS,
    connections: ctx.connections,
    url: `${ctx.dbBaselineUrl}/sales/${dbSale}/orders`,
    userHeader: true,
  });
  const { row, peak } = await peakAndHalf(
    ctx,
    layout,
    "contention",
    async (phase) => {
      const sale = await admin.sale(1000);
      sales.push(sale);
      if (phase === "peak") void watch(sale);
      return { url: `${layout.base}/api/sales/${sale}/orders`, users: users(ctx, `${layout.kind}-con-${phase}`) };
    },
    ["1,000 stock vs 200,000 buyers"],
  );
  watching = false;
  row.pairedDb = db.rps;
  const check = ledger((await admin.settled(sales[0])).stats);
  const inMysql = allPersistedAt ? `${allPersistedAt - peak.startedAt} ms` : "not within the run";
  row.notes.push(`sold out ${peak.last2xxMs} ms after the first request, all 1,000 in MySQL ${inMysql} after it; ${check.note}`);
  if (!check.ok) row.errors += 1;
  return row;
}

/** The crowd's shape; BENCH_CROWD_* and BENCH_FLOOD_SECONDS override it. */
export const CROWD_SHAPE = {
  buyers: Number(process.env.BENCH_CROWD_BUYERS ?? 20_000),
  stock: Number(process.env.BENCH_CROWD_STOCK ?? 1000),
  connections: Number(process.env.BENCH_CROWD_CONNECTIONS ?? 200),
  floodSeconds: Number(process.env.BENCH_FLOOD_SECONDS ?? 10),
  /** BENCH_CROWD_COLD=1: connections open with the crowd instead of before it (see below). */
  cold: process.env.BENCH_CROWD_COLD === "1",
};

/**
 * The crowd's first second as it happens at a real sale: `buyers` distinct buyers (each one
 * request) against `stock` units over `connections` connections, then `floodSeconds` of new
 * buyers hammering the sold-out sale. Each run is paired with a bare node:http server and a bare
 * Hono server driven the same way (same tokens) just before it. Reports requests/s, the winners'
 * 202 latency apart from the refusals, when the last unit sold, and when the last accepted order
 * was in MySQL (from the first request).
 */
export async function crowd(ctx: BenchContext, layout: Layout, tag = ""): Promise<{ crowd: Row; flood: Row }> {
  const { buyers, stock, connections, floodSeconds } = CROWD_SHAPE;
  ctx.step(`${layout.kind}: crowd${tag} (${buyers.toLocaleString("en")} buyers, ${stock.toLocaleString("en")} units)`);
  const admin = adminClient(layout.admin, ctx.prefix);
  const sale = await admin.sale(stock);
  const buyersSpec = users(ctx, `${layout.kind}-crowd${tag}`, buyers);
  const once = { method: "POST" as const, durationS: 60, connections, amount: buyers, users: buyersSpec };
  // Buyers arrive on open connections: the storefront polls GET /api/sales/:id each second
  // before the start, on keep-alive, so each connection first does that. Cold (BENCH_CROWD_COLD=1),
  // the first wave's latency is the 200 TCP handshakes racing: ~400 ms even for bare node:http.
  const warm = (path: string) => (CROWD_SHAPE.cold ? {} : { warmPath: path });
  const node = await runDrive({ ...once, url: ctx.bareNodeUrl, ...warm("/") });
  const hono = await runDrive({ ...once, url: ctx.baselineUrl, ...warm("/") });
  let persistedAt = 0;
  let watching = true;
  const watch = (async () => {
    while (watching && !persistedAt) {
      const st = await admin.stats(sale).catch(() => null);
      if (st && st.accepted > 0 && st.remaining === 0 && st.persisted >= st.accepted) persistedAt = Date.now();
      await new Promise((r) => setTimeout(r, 25));
    }
  })();
  const run = await runDrive({ ...once, url: `${layout.base}/api/sales/${sale}/orders`, ...warm(`/api/sales/${sale}`) });
  const settled = await admin.settled(sale);
  watching = false;
  await watch;
  // settled() may see the last row before the watcher's next look: its time is as good (50 ms steps).
  if (!persistedAt && settled.stats.persisted >= settled.stats.accepted && settled.stats.remaining === 0) persistedAt = settled.at;
  const check = ledger(settled.stats);
  const row = toRow("crowd", layout, run, [
    `${buyers.toLocaleString("en")} distinct buyers, ${stock.toLocaleString("en")} units, ${connections} connections`,
    `202 p50 ${run.accepted?.p50} ms, p99 ${run.accepted?.p99} ms; refusals p50 ${run.refused?.p50} ms, p99 ${run.refused?.p99} ms`,
    `sold out ${run.last2xxMs} ms after the first request; all accepted in MySQL ${persistedAt ? `${persistedAt - run.startedAt} ms` : "not seen"} after it`,
    `bare node:http ${Math.round(node.rps).toLocaleString("en")}/s (p99 ${node.p99} ms), bare Hono ${Math.round(hono.rps).toLocaleString("en")}/s just before`,
    check.note,
  ]);
  row.notes[row.notes.length - 1] = `answers ${JSON.stringify(run.byStatus)}`; // exact statuses, not toRow's classes
  row.pairedNode = node.rps;
  row.pairedNodeP99 = node.p99;
  row.pairedBaseline = hono.rps;
  row.accepted = run.accepted;
  if (!check.ok || settled.stats.accepted !== stock) row.errors += 1;

  const flood = { method: "POST" as const, durationS: floodSeconds, connections, users: users(ctx, `${layout.kind}-flood${tag}`) };
  const nodeFlood = await runDrive({ ...flood, url: ctx.bareNodeUrl });
  const floodRun = await runDrive({ ...flood, url: `${layout.base}/api/sales/${sale}/orders` });
  const floodRow = toRow("crowd flood", layout, floodRun, [`${floodSeconds} s of new buyers on the sold-out sale`]);
  floodRow.pairedNode = nodeFlood.rps;
  return { crowd: row, flood: floodRow };
}

/** The crowd's targets (same-run ratios, not timed tests): see the README's performance section. */
export function crowdVerdicts(c: Row, flood: Row): { target: string; met: boolean; figure: string }[] {
  const rNode = c.rps / (c.pairedNode ?? Number.NaN);
  const fNode = flood.rps / (flood.pairedNode ?? Number.NaN);
  const p99 = c.accepted?.p99 ?? Number.POSITIVE_INFINITY;
  return [
    { target: "crowd >= 0.8x bare node:http", met: rNode >= 0.8, figure: rNode.toFixed(2) },
    { target: "crowd's accepted p99 <= 50 ms", met: p99 <= 50, figure: `${p99} ms` },
    { target: "crowd: exactly the stock sold, all of it in MySQL", met: c.errors === 0, figure: c.notes.at(-2) ?? "" },
    { target: "sold-out flood >= 0.9x bare node:http", met: fNode >= 0.9, figure: fNode.toFixed(2) },
  ];
}
