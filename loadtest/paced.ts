import { Pool } from "undici";
import type { DriveSpec } from "./drive.js";

/**
 * Open-loop load at a fixed rate: request n is due at start + n / rate whatever happened to the
 * ones before it, so a stall shows up as latency rather than as requests never sent
 * (coordinated omission). Latency counts from when the request is handed to the connection
 * pool, so time queued behind busy connections counts; time the generator's own timer fired
 * late does not (these VMs wake a sleeping timer up to ~10 ms late, which would otherwise show
 * as 11 ms p50 against a bare server at 100 req/s). That lateness is reported apart.
 * autocannon's overallRate sends each second's quota in a burst, which measures the burst.
 * The first second is a warm-up, sent but not counted: connections being opened and the
 * generator's own JIT would otherwise be reported as the server's tail.
 */
const WARMUP_S = 1;

export async function paced(spec: DriveSpec & { rate: number }, headersFor: (n: number) => Record<string, string>) {
  const url = new URL(spec.url);
  const pool = new Pool(url.origin, { connections: spec.connections, pipelining: 1 });
  const latencies: number[] = [];
  const statuses: Record<string, number> = { "1xx": 0, "2xx": 0, "3xx": 0, "4xx": 0, "5xx": 0 };
  let errors = 0;
  const startedAt = Date.now();
  let last2xxAt = 0;
  const t0 = performance.now();
  const warmup = Math.round(spec.rate * WARMUP_S);
  const total = warmup + Math.round(spec.rate * spec.durationS);
  let sent = 0;
  const inflight = new Set<Promise<void>>();

  const lateness: number[] = [];
  const fire = (n: number, due: number) => {
    const sent = performance.now();
    if (n >= warmup) lateness.push(sent - due);
    const p = pool
      .request({
        path: url.pathname + url.search,
        method: spec.method,
        headers: headersFor(n),
        body: spec.method === "POST" ? "{}" : undefined,
      })
      .then(
        async (res) => {
          await res.body.dump();
          if (n < warmup) return;
          latencies.push(performance.now() - sent);
          statuses[`${Math.floor(res.statusCode / 100)}xx`]++;
          if (res.statusCode >= 500) errors++;
          if (res.statusCode < 300) last2xxAt = Date.now();
        },
        () => {
          if (n >= warmup) errors++;
        },
      )
      .finally(() => inflight.delete(p));
    inflight.add(p);
  };
  await new Promise<void>((resolve) => {
    const tick = () => {
      const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * spec.rate));
      for (; sent < due; sent++) fire(sent, t0 + (sent * 1000) / spec.rate);
      if (sent >= total) resolve();
      else setTimeout(tick, 1);
    };
    tick();
  });
  while (inflight.size) await Promise.all([...inflight]);
  await pool.close();
  const elapsedS = (performance.now() - t0) / 1000 - WARMUP_S;
  latencies.sort((a, b) => a - b);
  lateness.sort((a, b) => a - b);
  const at = (xs: number[], q: number) => (xs.length ? Math.round(xs[Math.min(xs.length - 1, Math.floor(q * xs.length))]) : 0);
  const pct = (q: number) => at(latencies, q);
  return {
    rps: latencies.length / elapsedS,
    total: latencies.length,
    p50: pct(0.5),
    p99: pct(0.99),
    p999: pct(0.999),
    errors,
    statuses,
    durationS: elapsedS,
    startedAt,
    last2xxMs: last2xxAt ? last2xxAt - startedAt : null,
    /** How late the generator sent, p99 (ms): large means it could not keep the schedule. */
    senderLateP99: at(lateness, 0.99),
  };
}
