// Shared by the k6 scripts: settings from -e variables, JWT signing (HS256, sub = user id), the
// admin calls, purchase counts by status, the end-of-run ledger check, and the summary.
//
// Syntax: ES2017 modules only (no numeric separators, no object spread, no optional chaining):
// k6 v0.47 refuses anything newer before running a line. test/unit/k6-scripts.test.ts parses
// every script as ES2017 so that cannot come back.
import { sleep } from "k6";
import crypto from "k6/crypto";
import encoding from "k6/encoding";
import http from "k6/http";
import { Counter } from "k6/metrics";

/** A -e variable as a number, or `fallback` when unset; a non-number stops the run before it starts. */
export function numberEnv(name, fallback) {
  const raw = __ENV[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n)) throw new Error(`-e ${name}=${raw}: not a number`);
  return n;
}

export const BASE_URL = __ENV.BASE_URL || "http://127.0.0.1:3000";
// Both must match the platform's: a wrong ADMIN_TOKEN stops setup() with a 401; a wrong
// JWT_SECRET makes every purchase a 401 (then 429 per IP), which fails the checks threshold.
export const ADMIN_TOKEN = __ENV.ADMIN_TOKEN || "dev-admin-token-change-me";
export const JWT_SECRET = __ENV.JWT_SECRET || "dev-jwt-secret-change-me-0123456789abcdef";
/** How long teardown() waits for MySQL to hold every accepted order, in seconds. */
export const VERIFY_WAIT_S = numberEnv("VERIFY_WAIT_S", 120);

/** Incremented by teardown() when the sale sold more than its stock: the threshold fails on any. */
export const oversold = new Counter("seckill_oversold");
/** Incremented by teardown() for accepted orders that never became rows. */
export const lost = new Counter("seckill_lost");
export const accepted = new Counter("seckill_accepted");

// 409/410/429 are answers, not failures: only 5xx, 4xx other than those, and transport errors
// count in http_req_failed. Whether an answer is what the scenario wanted is each script's check.
http.setResponseCallback(http.expectedStatuses(200, 201, 202, 409, 410, 429));

/** Purchase answers by status, one counter each so the default summary and handleSummary show them. */
const STATUSES = [202, 400, 401, 403, 404, 409, 410, 413, 429, 503];
const byStatus = {};
for (const s of STATUSES) byStatus[s] = new Counter(`purchases_${s}`);
const otherStatus = new Counter("purchases_other");

export function countStatus(res) {
  (byStatus[res.status] || otherStatus).add(1);
}

const HEADER = encoding.b64encode(JSON.stringify({ alg: "HS256", typ: "JWT" }), "rawurl");

export function userToken(userId) {
  const payload = encoding.b64encode(JSON.stringify({ sub: userId, exp: Math.floor(Date.now() / 1000) + 6 * 3600 }), "rawurl");
  const body = `${HEADER}.${payload}`;
  return `${body}.${crypto.hmac("sha256", JWT_SECRET, body, "base64rawurl")}`;
}

const adminHeaders = { Authorization: `Bearer ${ADMIN_TOKEN}`, "Content-Type": "application/json" };

/** Creates a sale open now and preloads it; returns its id. */
export function createSale(name, stock, hours) {
  const id = `k6-${name}-${Date.now()}`;
  const now = new Date();
  const res = http.post(
    `${BASE_URL}/admin/sales`,
    JSON.stringify({
      id,
      title: `k6 ${name}`,
      priceCents: 1999,
      stock,
      startsAt: now.toISOString(),
      endsAt: new Date(now.getTime() + (hours || 2) * 3600 * 1000).toISOString(),
    }),
    { headers: adminHeaders },
  );
  if (res.status !== 201) throw new Error(`create sale at ${BASE_URL}: ${res.status} ${res.body} (is ADMIN_TOKEN the platform's?)`);
  const pre = http.post(`${BASE_URL}/admin/sales/${id}/preload?force=true`, null, { headers: adminHeaders });
  if (pre.status !== 200) throw new Error(`preload: ${pre.status} ${pre.body}`);
  return id;
}

/** One purchase by a user; its answer is counted by status. */
export function buy(saleId, userId) {
  const res = http.post(`${BASE_URL}/api/sales/${saleId}/orders`, "{}", {
    headers: { Authorization: `Bearer ${userToken(userId)}`, "Content-Type": "application/json", "Idempotency-Key": `k6-${userId}` },
    tags: { name: "purchase" },
  });
  countStatus(res);
  return res;
}

/** Reads a sale's stats through the admin API; throws with the answer when it is not 200. */
export function saleStats(saleId) {
  const res = http.get(`${BASE_URL}/admin/sales/${saleId}/stats`, { headers: adminHeaders, tags: { name: "stats" } });
  if (res.status !== 200) throw new Error(`stats of ${saleId}: ${res.status} ${res.body}`);
  return JSON.parse(res.body);
}

/** Waits (up to VERIFY_WAIT_S) until MySQL holds every accepted order, then records lost/oversold. */
export function verifySale(saleId, stock) {
  let stats = saleStats(saleId);
  for (let i = 0; i < VERIFY_WAIT_S && !(stats.persisted >= stats.accepted && stats.pendingHandoff === 0); i++) {
    sleep(1);
    stats = saleStats(saleId);
  }
  accepted.add(stats.accepted);
  lost.add(Math.max(0, stats.accepted - stats.persisted));
  oversold.add(Math.max(0, stats.persisted - stock));
  console.log(`sale ${saleId}: stock ${stock}, accepted ${stats.accepted}, persisted ${stats.persisted}, remaining ${stats.remaining}`);
  return stats;
}

/** teardown() must outlive verifySale's wait, or k6 cuts the ledger check short (its default is 60 s). */
export const TEARDOWN_TIMEOUT = `${VERIFY_WAIT_S + 60}s`;

/** Trend statistics in the summary: p(99) is not among k6's defaults. */
export const SUMMARY_TREND_STATS = ["avg", "min", "med", "p(90)", "p(95)", "p(99)", "max"];

/** The invariants alone (no oversell, no lost order): not configurable. */
export const invariantThresholds = {
  seckill_oversold: ["count==0"],
  seckill_lost: ["count==0"],
};

/**
 * The thresholds every script shares, with the latency and error budgets read from -e variables
 * (P95_MS, P99_MS, FAILED_RATE) and the given defaults, plus the invariants (no oversell, no lost
 * order, no more 202s than units), which are not configurable. `extra` adds a script's own.
 */
export function thresholds(stock, defaults, extra) {
  const out = {
    "http_req_duration{name:purchase}": [`p(95)<${numberEnv("P95_MS", defaults.p95Ms)}`, `p(99)<${numberEnv("P99_MS", defaults.p99Ms)}`],
    http_req_failed: [`rate<${numberEnv("FAILED_RATE", defaults.failedRate)}`],
    // No more 202s than units: the oversell threshold, seen from the client side too.
    purchases_202: [`count<=${stock}`],
  };
  return Object.assign(out, invariantThresholds, extra || {});
}

function metricLine(data, name, label) {
  const m = data.metrics[name];
  if (!m) return null;
  const v = m.values;
  if (m.type === "trend") {
    // A time trend is in ms; others (the handoff backlog) are plain numbers.
    const unit = m.contains === "time" ? " ms" : "";
    const f = (x) => `${x === undefined ? "-" : x.toFixed(1)}${unit}`;
    return `${label}: p50 ${f(v.med)}, p95 ${f(v["p(95)"])}, p99 ${f(v["p(99)"])}, max ${f(v.max)}`;
  }
  if (m.type === "rate") return `${label}: ${(v.rate * 100).toFixed(2)} %`;
  return `${label}: ${v.count}`;
}

/**
 * handleSummary for every script: purchases by status, purchase latency with p(99), the ledger
 * and each threshold's verdict on stdout; the whole k6 summary as JSON to SUMMARY_JSON if set.
 */
export function summarize(data, scenario) {
  const lines = [`\n${scenario}: ${BASE_URL}`];
  const reqs = data.metrics.http_reqs;
  if (reqs) lines.push(`requests: ${reqs.values.count} (${reqs.values.rate.toFixed(1)}/s)`);
  const statuses = STATUSES.map((s) => [String(s), data.metrics[`purchases_${s}`]])
    .concat([["other", data.metrics.purchases_other]])
    .filter((e) => e[1] && e[1].values.count > 0)
    .map((e) => `${e[0]} ${e[1].values.count}`);
  lines.push(`purchases by status: ${statuses.length ? statuses.join(", ") : "none"}`);
  for (const [name, label] of [
    ["http_req_duration{name:purchase}", "purchase latency"],
    ["http_req_failed", "failed requests"],
    ["checks", "checks passed"],
    ["seckill_accepted", "accepted (stats)"],
    ["seckill_lost", "lost"],
    ["seckill_oversold", "oversold"],
    ["seckill_pending_handoff", "handoff backlog"],
    ["queue_bought", "bought from the waiting room"],
    ["queue_sold_out_seen", "waiters told sold out"],
    ["queue_stuck", "waiters left hanging"],
    ["bot_wins", "bot wins"],
  ]) {
    const line = metricLine(data, name, label);
    if (line) lines.push(line);
  }
  const verdicts = [];
  for (const name of Object.keys(data.metrics)) {
    const t = data.metrics[name].thresholds || {};
    for (const expr of Object.keys(t)) verdicts.push(`  ${t[expr].ok ? "ok  " : "FAIL"} ${name}: ${expr}`);
  }
  if (verdicts.length) lines.push(`thresholds:\n${verdicts.join("\n")}`);
  const out = { stdout: `${lines.join("\n")}\n` };
  if (__ENV.SUMMARY_JSON) out[__ENV.SUMMARY_JSON] = JSON.stringify(data, null, 2);
  return out;
}
