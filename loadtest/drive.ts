import autocannon from "autocannon";
import { createPasses } from "../apps/domain/admission/pass.js";
import { paced } from "./paced.js";
import { signTokens } from "./tokens.js";

/**
 * The load generator, run as its own process by bench.ts (so it never shares the server's event
 * loop). Reads a scenario from argv as JSON, prints one JSON result line.
 */
export interface DriveSpec {
  url: string;
  method: "GET" | "POST";
  durationS: number;
  connections: number;
  /** Distinct users: each request carries the next pre-signed token (wrapping around). */
  users?: { secret: string; prefix: string; count: number };
  /** Sent as X-User with a running counter (the db-baseline server's user id). */
  userHeader?: boolean;
  /**
   * Each connection first GETs this path, as the storefront's polling of the sale does before it
   * starts, so buyers arrive on open keep-alive connections; the load (rate, statuses, latencies,
   * `amount`) counts from the first purchase. Unset: connections open with the load, and the
   * first wave's latency includes 200 TCP handshakes racing (a bare node:http server's too).
   */
  warmPath?: string;
  /** Stop once this many requests were sent. */
  amount?: number;
  /** Requests per second, open loop (paced.ts); unset: as fast as answered (autocannon, closed loop). */
  rate?: number;
  /** Each request also carries a valid X-Purchase-Pass of its user for this sale (pass and queue sales). */
  pass?: { secret: string; saleId: string };
}

const spec = JSON.parse(process.argv[2]) as DriveSpec;
const tokens = spec.users ? signTokens(spec.users.secret, spec.users.prefix, spec.users.count) : [];
// Signed here, before the load starts, like the tokens: the generator must not be what is measured.
const passes = spec.pass && spec.users ? passesFor(spec.pass, spec.users.prefix, tokens.length) : [];
let i = 0;
const headersFor = (n: number): Record<string, string> => {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (tokens.length) headers.authorization = `Bearer ${tokens[n % tokens.length]}`;
  if (spec.userHeader) headers["x-user"] = `u-${n}`;
  if (passes.length) headers["x-purchase-pass"] = passes[n % passes.length];
  return headers;
};
if (spec.rate) {
  process.stdout.write(`${JSON.stringify(await paced({ ...spec, rate: spec.rate }, headersFor))}\n`);
  process.exit(0);
}
// When the load began (epoch ms) and when the last 2xx came back: the contention scenario's
// "sold out after" is measured from the first request, not from this process's start-up.
let startedAt = Date.now();
let purchasing = false;
let warmupsLeft = spec.warmPath ? spec.connections : 0;
let last2xxAt = 0;
let lastAnswerAt = 0;
let answers = 0;
let answersByLast2xx = 0;
const instance = autocannon({
  url: spec.url,
  method: spec.method,
  connections: spec.connections,
  ...(spec.amount ? { amount: spec.amount + (spec.warmPath ? spec.connections : 0) } : { duration: spec.durationS }),
  headers: { "content-type": "application/json" },
  body: spec.method === "POST" ? "{}" : undefined,
  requests: [
    {
      // autocannon builds each connection's first request as it creates the connections, before
      // any answer, so the first `connections` builds are the warm-ups (its per-connection context
      // is reset after every request of a one-request list, so it cannot say which is first).
      setupRequest: (req) => {
        if (warmupsLeft > 0) {
          warmupsLeft--;
          return { ...req, method: "GET", path: spec.warmPath, body: undefined, headers: {} };
        }
        if (!purchasing) {
          purchasing = true;
          startedAt = Date.now();
        }
        return { ...req, headers: headersFor(i++) };
      },
    },
  ],
});
// Without a callback autocannon returns its instance, which is both an emitter and a promise.
// Per answer: its exact status and its latency, so a crowd's winners (2xx) and refusals are
// reported apart (autocannon's own histogram mixes them).
const byStatus: Record<string, number> = {};
const acceptedMs: number[] = [];
const refusedMs: number[] = [];
/** When each accepted request was sent (ms from the start), beside acceptedMs: where the slowest winners came from. */
const acceptedSentAt: number[] = [];
const warmed = new WeakSet<object>();
let warmCount = 0;
(instance as unknown as import("node:events").EventEmitter).on(
  "response",
  (client: object, status: number, _bytes: number, responseTimeMs: number) => {
    if (spec.warmPath && !warmed.has(client)) {
      warmed.add(client); // its connection's warm-up GET, not load
      warmCount++;
      return;
    }
    byStatus[status] = (byStatus[status] ?? 0) + 1;
    lastAnswerAt = Date.now();
    answers++;
    if (status >= 200 && status < 300) {
      last2xxAt = Date.now();
      answersByLast2xx = answers;
      acceptedMs.push(responseTimeMs);
      acceptedSentAt.push(Date.now() - startedAt - responseTimeMs);
    } else refusedMs.push(responseTimeMs);
  },
);
const pct = (xs: number[], q: number) => {
  if (xs.length === 0) return null;
  const sorted = [...xs].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] * 10) / 10;
};
const result = await instance;
const statuses: Record<string, number> = {};
for (const k of ["1xx", "2xx", "3xx", "4xx", "5xx"] as const) statuses[k] = (result as unknown as Record<string, number>)[k] ?? 0;
if (spec.warmPath) statuses["2xx"] -= warmCount; // the warm-up GETs
const total = spec.warmPath ? answers : result.requests.total;
process.stdout.write(
  `${JSON.stringify({
    // With `amount` the run is short, and autocannon both averages per whole second and ends on
    // its next one-second tick: answers over the time to the last answer instead.
    rps: spec.amount ? total / ((lastAnswerAt - startedAt) / 1000) : result.requests.average,
    total,
    p50: result.latency.p50,
    p99: result.latency.p99,
    p999: result.latency.p99_9,
    errors: result.errors + result.timeouts + statuses["5xx"],
    statuses,
    durationS: result.duration,
    startedAt,
    last2xxMs: last2xxAt ? last2xxAt - startedAt : null,
    answersByLast2xx,
    byStatus,
    accepted: { p50: pct(acceptedMs, 0.5), p99: pct(acceptedMs, 0.99) },
    refused: { p50: pct(refusedMs, 0.5), p99: pct(refusedMs, 0.99) },
    slowestAccepted: acceptedMs
      .map((ms, i) => ({ sentAtMs: Math.round(acceptedSentAt[i]), ms: Math.round(ms) }))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, 12),
    // Accepted answers by when they were sent (100 ms steps): how many, and the slowest of each step.
    acceptedBySendTime: Object.entries(
      acceptedMs.reduce<Record<number, { n: number; maxMs: number }>>((acc, ms, i) => {
        const step = Math.floor(acceptedSentAt[i] / 100) * 100;
        acc[step] ??= { n: 0, maxMs: 0 };
        acc[step].n++;
        acc[step].maxMs = Math.max(acc[step].maxMs, Math.round(ms));
        return acc;
      }, {}),
    ).map(([step, v]) => `${step}ms: ${v.n} (max ${v.maxMs})`),
  })}\n`,
);

function passesFor(p: { secret: string; saleId: string }, prefix: string, count: number): string[] {
  const signer = createPasses(p.secret);
  const expiresAt = Date.now() + 6 * 3600_000;
  return Array.from({ length: count }, (_, i) => signer.issue(p.saleId, `${prefix}-${i}`, expiresAt));
}
