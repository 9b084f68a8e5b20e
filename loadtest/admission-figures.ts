import { execFileSync } from "node:child_process";
import { createHash, webcrypto } from "node:crypto";
import { cpus, loadavg } from "node:os";
import mysql from "mysql2/promise";
import { DEV_SECRETS } from "../apps/core/config.js";
import { createPasses } from "../apps/domain/admission/pass.js";
import { startStack } from "../infra/stack.js";
import { botFlow, createAdmissionSale, queueFlow, type Target } from "./admission-flows.js";
import { dropRedisPrefix } from "./ceilings.js";
import { startLayout } from "./layouts.js";
import { runDrive } from "./run-drive.js";

/**
 * `npx tsx loadtest/admission-figures.ts`: the admission figures, printed (not asserted):
 *  1. SHA-256 hashes/s on this machine, native (what a bot pays per core) and through WebCrypto
 *     one digest at a time (what a browser tab's solver pays), and what each difficulty costs;
 *  2. the gateway's cost of checking X-Purchase-Pass: purchases/s of an open sale and of a pass
 *     sale with valid passes, alternated in the same run, plus the check alone in µs;
 *  3. waiting-room throughput: joins/s and polls/s over HTTP;
 *  4. from the last unit's 202 to every waiter reading sold_out: all asking at once, and polling
 *     as pollAfterSeconds tells them;
 *  5. the bot scenario (no pass, forged, replayed): what bots got.
 * Knobs: FIG_SECONDS (per run, 5), FIG_CONNECTIONS (100), FIG_WAITERS (3000), FIG_STOCK (100).
 * Runs the one-process platform on a stack of its own (own database, key prefix, Kafka mock).
 */
const seconds = Number(process.env.FIG_SECONDS ?? 5);
const connections = Number(process.env.FIG_CONNECTIONS ?? 100);
const waiters = Number(process.env.FIG_WAITERS ?? 3000);
const stock = Number(process.env.FIG_STOCK ?? 100);
const say = (line: string) => process.stdout.write(`${line}\n`);
const step = (what: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${what}...\n`);
const fmt = (n: number) => Math.round(n).toLocaleString("en");

// --- 1. hashes/s and the price of each difficulty ----------------------------------------------
step("SHA-256 rates");
function rate(fn: () => void, ms = 1500): number {
  let n = 0;
  const until = performance.now() + ms;
  while (performance.now() < until) for (let k = 0; k < 1000; k++, n++) fn();
  return n / (ms / 1000);
}
let i = 0;
const prefix32 = "0123456789abcdef0123456789abcdef";
const native = rate(() =>
  createHash("sha256")
    .update(prefix32 + i++)
    .digest(),
);
/** WebCrypto, `inFlight` digests at a time (a browser solver batches them; one at a time it waits on each promise). */
async function webRate(inFlight: number, ms = 1500): Promise<number> {
  const enc = new TextEncoder();
  let n = 0;
  const until = performance.now() + ms;
  while (performance.now() < until) {
    await Promise.all(Array.from({ length: inFlight }, (_, k) => webcrypto.subtle.digest("SHA-256", enc.encode(prefix32 + (n + k)))));
    n += inFlight;
  }
  return n / (ms / 1000);
}
const webOne = await webRate(1);
const web = await webRate(64);
/** OpenSSL's own SHA-256 speed on 64-byte inputs (two compressions each, like a longer nonce): a C solver's rate per core. */
function opensslRate(): number | null {
  try {
    const out = execFileSync("openssl", ["speed", "-seconds", "2", "-bytes", "64", "sha256"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    });
    const m = /^sha256\s+([\d.]+)k/m.exec(out);
    return m ? (Number(m[1]) * 1000) / 64 : null;
  } catch {
    return null;
  }
}
const c = opensslRate() ?? native;
say("## Proof of work: what a pass costs");
say(
  `SHA-256 here, one core: ${fmt(web)} hashes/s through WebCrypto with 64 digests in flight (a browser tab's solver; ${fmt(webOne)}/s one at a time); ${fmt(native)}/s with node:crypto one hash per call (a script); ${fmt(c)}/s in C (openssl speed, 64-byte inputs: a bot farm's solver per CPU core; a GPU does on the order of a thousand times that)`,
);
say("| difficulty bits | hashes per pass (mean) | browser tab | Node script, one core | C, one core | passes per C core-hour |");
say("| --- | --- | --- | --- | --- | --- |");
for (const bits of [0, 8, 12, 16, 18, 20, 22, 24, 28, 32]) {
  const h = 2 ** bits;
  const t = (s: number) =>
    s < 1
      ? `${(s * 1000).toFixed(1)} ms`
      : s < 120
        ? `${s.toFixed(1)} s`
        : s < 7200
          ? `${(s / 60).toFixed(1)} min`
          : `${(s / 3600).toFixed(1)} h`;
  say(`| ${bits} | ${fmt(h)} | ${t(h / web)} | ${t(h / native)} | ${t(h / c)} | ${fmt((3600 * c) / h)} |`);
}

// --- the platform -----------------------------------------------------------------------------
const runPrefix = `adm${Date.now().toString(36)}`;
const stack = await startStack({ database: runPrefix, env: { REDIS_URL: process.env.REDIS_URL } });
const env = {
  ...process.env,
  LOG_LEVEL: "warn",
  REDIS_URL: stack.redisUrl,
  DATABASE_URL: stack.databaseUrl,
  KAFKA_BROKERS: stack.kafkaBrokers,
  REDIS_KEY_PREFIX: `${runPrefix}:`,
  MAX_INFLIGHT_PURCHASES: "100000",
};
step("starting the one-process platform");
const layout = await startLayout("one-process", env);
const t: Target = { base: layout.base, adminToken: DEV_SECRETS.ADMIN_TOKEN, jwtSecret: DEV_SECRETS.JWT_SECRET };
try {
  // --- 2. the gateway's cost of a pass -----------------------------------------------------------
  say("\n## Gateway: checking X-Purchase-Pass");
  const passes = createPasses(DEV_SECRETS.JWT_SECRET);
  const pass = passes.issue("some-sale", "some-user", Date.now() + 3_600_000);
  const checks = rate(() => passes.check(pass, "some-sale", "some-user"));
  say(`the check alone: ${(1e6 / checks).toFixed(2)} µs (${fmt(checks)}/s on one core; one HMAC-SHA256, no I/O)`);
  const openSale = await createAdmissionSale(t, "fig-open", 10_000_000, "open");
  const passSale = await createAdmissionSale(t, "fig-pass", 10_000_000, "pass");
  const purchases = (saleId: string, tag: string, withPass: boolean) =>
    runDrive({
      url: `${t.base}/api/sales/${saleId}/orders`,
      method: "POST",
      durationS: seconds,
      connections,
      users: { secret: t.jwtSecret, prefix: `${runPrefix}-${tag}`, count: 200_000 },
      ...(withPass ? { pass: { secret: t.jwtSecret, saleId } } : {}),
    });
  step("warm-up");
  await purchases(openSale, "warm", false);
  const runs: { kind: string; rps: number; p99: number; statuses: Record<string, number> }[] = [];
  // Alternated, in both orders, and compared by the median: on a shared box the speed drifts
  // between runs by more than a pass check costs.
  for (const [round, order] of [
    [1, ["open", "pass"]],
    [2, ["pass", "open"]],
    [3, ["open", "pass"]],
  ] as const) {
    step(`round ${round}: ${order.join(", then ")}`);
    for (const kind of order) {
      const r = await purchases(kind === "open" ? openSale : passSale, `${kind}${round}`, kind === "pass");
      runs.push({ kind, rps: r.rps, p99: r.p99, statuses: r.statuses });
    }
  }
  const median = (kind: string) =>
    runs
      .filter((r) => r.kind === kind)
      .map((r) => r.rps)
      .sort((x, y) => x - y)[1];
  for (const r of runs)
    say(
      `- ${r.kind === "open" ? "open sale, no pass   " : "pass sale, valid pass"}: ${fmt(r.rps)} purchases/s, p99 ${r.p99} ms, answers ${JSON.stringify(r.statuses)}`,
    );
  say(
    `median: ${fmt(median("open"))}/s without, ${fmt(median("pass"))}/s with a pass checked (${((median("pass") / median("open") - 1) * 100).toFixed(1)} %; load average ${loadavg()[0].toFixed(1)} on ${cpus().length} cores)`,
  );

  // --- 3. waiting-room throughput ------------------------------------------------------------------
  say("\n## Waiting room: joins and polls over HTTP");
  const upcoming = await createAdmissionSale(t, "fig-queue", 1000, "queue", { startsInMs: 3_600_000 });
  const joinUsers = { secret: t.jwtSecret, prefix: `${runPrefix}-join`, count: 500_000 };
  const joins = await runDrive({
    url: `${t.base}/api/sales/${upcoming}/queue`,
    method: "POST",
    durationS: seconds,
    connections,
    users: joinUsers,
  });
  say(`joins: ${fmt(joins.rps)}/s, p99 ${joins.p99} ms, answers ${JSON.stringify(joins.statuses)}`);
  const polls = await runDrive({
    url: `${t.base}/api/sales/${upcoming}/queue`,
    method: "GET",
    durationS: seconds,
    connections,
    users: { ...joinUsers, count: Math.max(1, joins.total) },
  });
  say(`polls: ${fmt(polls.rps)}/s, p99 ${polls.p99} ms, answers ${JSON.stringify(polls.statuses)} (${fmt(joins.total)} waiting)`);

  // --- 4. the last unit to every waiter told -------------------------------------------------------
  step(`queue flow: ${waiters} waiters, ${stock} units`);
  say("\n## Waiting room: from the last unit to every waiter told sold_out");
  const flow = await queueFlow(t, { users: waiters, stock, startsInMs: 5000, inletPerSecond: 200, sweep: true });
  say(
    `${flow.users} joined before the start (${fmt(flow.joinsPerSecond)} joins/s), inlet 200/s: ${flow.bought} bought, ${flow.soldOutSeen} told sold_out, ${flow.stuck} left hanging; ${fmt(flow.polls)} polls`,
  );
  if (flow.sweep) {
    say(
      `all ${flow.sweep.asked} others asking at the moment of the last 202: ${flow.sweep.soldOut} read sold_out, the last answer after ${flow.sweep.ms.toFixed(0)} ms`,
    );
  }
  say(
    `polling as pollAfterSeconds says: the last waiter saw sold_out ${flow.lastSoldOutSeenAt - flow.lastUnitAt} ms after the last unit (bounded by pollAfterSeconds; the state itself flips in the reserve script's write)`,
  );
  say(`admin stats: ${JSON.stringify(flow.stats.admission)}`);

  // --- 5. bots ---------------------------------------------------------------------------------------
  step("bots");
  say("\n## Bots: no pass, forged passes, a replayed pass");
  const bots = await botFlow(t, { bots: 1000, difficultyBits: 12 });
  say(
    `${fmt(bots.attempts)} attempts: ${bots.botWins} purchases; answers ${JSON.stringify(bots.statuses)}; pass sale accepted ${bots.honestAccepted} (the honest buyer), queue sale ${bots.queueAccepted}`,
  );
} finally {
  await layout.stop();
  await stack.stop();
  await dropRedisPrefix(stack.redisUrl ?? "redis://127.0.0.1:6379", `${runPrefix}:`);
  const conn = await mysql.createConnection({ uri: stack.databaseUrl.replace(/[^/]+$/, "") });
  await conn.query(`DROP DATABASE IF EXISTS \`${runPrefix}\``);
  await conn.end();
}
