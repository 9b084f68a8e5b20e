import autocannon from "autocannon";
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
  /** Stop once this many requests were sent. */
  amount?: number;
  /** Requests per second, open loop (paced.ts); unset: as fast as answered (autocannon, closed loop). */
  rate?: number;
}

const spec = JSON.parse(process.argv[2]) as DriveSpec;
const tokens = spec.users ? signTokens(spec.users.secret, spec.users.prefix, spec.users.count) : [];
let i = 0;
const headersFor = (n: number): Record<string, string> => {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (tokens.length) headers.authorization = `Bearer ${tokens[n % tokens.length]}`;
  if (spec.userHeader) headers["x-user"] = `u-${n}`;
  return headers;
};
if (spec.rate) {
  process.stdout.write(`${JSON.stringify(await paced({ ...spec, rate: spec.rate }, headersFor))}\n`);
  process.exit(0);
}
// When the load began (epoch ms) and when the last 2xx came back: the contention scenario's
// "sold out after" is measured from the first request, not from this process's start-up.
const startedAt = Date.now();
let last2xxAt = 0;
const instance = autocannon({
  url: spec.url,
  method: spec.method,
  connections: spec.connections,
  ...(spec.amount ? { amount: spec.amount } : { duration: spec.durationS }),
  headers: { "content-type": "application/json" },
  body: spec.method === "POST" ? "{}" : undefined,
  requests: [
    {
      setupRequest: (req) => {
        return { ...req, headers: headersFor(i++) };
      },
    },
  ],
});
// Without a callback autocannon returns its instance, which is both an emitter and a promise.
(instance as unknown as import("node:events").EventEmitter).on("response", (_client: unknown, status: number) => {
  if (status >= 200 && status < 300) last2xxAt = Date.now();
});
const result = await instance;
const statuses: Record<string, number> = {};
for (const k of ["1xx", "2xx", "3xx", "4xx", "5xx"] as const) statuses[k] = (result as unknown as Record<string, number>)[k] ?? 0;
process.stdout.write(
  `${JSON.stringify({
    rps: result.requests.average,
    total: result.requests.total,
    p50: result.latency.p50,
    p99: result.latency.p99,
    p999: result.latency.p99_9,
    errors: result.errors + result.timeouts + statuses["5xx"],
    statuses,
    durationS: result.duration,
    startedAt,
    last2xxMs: last2xxAt ? last2xxAt - startedAt : null,
  })}\n`,
);
