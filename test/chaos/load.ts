import { Agent, request } from "undici";
import { signUserToken } from "../../apps/core/jwt.js";

export interface LoadResult {
  /** user -> order id from a 202 */
  accepted: Map<string, string>;
  /** 202 latencies in ms (the attempt that got the 202) */
  acceptLatencies: number[];
  /** answers by status (0: connection error), every attempt counted */
  statuses: Record<number, number>;
  /** buyers that never got a final answer within their retry budget */
  unresolved: number;
}

/**
 * A steady crowd: `users` distinct buyers, each buying once with an Idempotency-Key of its own,
 * at about `ratePerSec` new buyers a second over `concurrency` connections. A 503, 429 or
 * connection error is retried after Retry-After (or 100 ms), as a well-behaved client does; the
 * key makes a retry return the first order instead of buying twice.
 */
export async function runLoad(opts: {
  gatewayUrl: string;
  jwtSecret: string;
  saleId: string;
  users: number;
  ratePerSec: number;
  concurrency?: number;
  userPrefix?: string;
  /** Stop early (e.g. when a scenario's fault schedule is over). */
  until?: () => boolean;
}): Promise<LoadResult> {
  const dispatcher = new Agent({ connections: opts.concurrency ?? 64, keepAliveTimeout: 10_000 });
  const result: LoadResult = { accepted: new Map(), acceptLatencies: [], statuses: {}, unresolved: 0 };
  const prefix = opts.userPrefix ?? "chaos";
  const started = Date.now();
  let next = 0;
  const count = (s: number) => {
    result.statuses[s] = (result.statuses[s] ?? 0) + 1;
  };

  async function buy(user: string, token: string) {
    const deadline = Date.now() + 180_000;
    while (Date.now() < deadline) {
      const t0 = performance.now();
      let status = 0;
      let retryAfter = 0.1;
      let body = "";
      try {
        const res = await request(`${opts.gatewayUrl}/api/sales/${opts.saleId}/orders`, {
          method: "POST",
          dispatcher,
          headers: { authorization: `Bearer ${token}`, "idempotency-key": `k-${user}`, "content-type": "application/json" },
          body: "{}",
          headersTimeout: 30_000,
          bodyTimeout: 30_000,
        });
        status = res.statusCode;
        body = await res.body.text();
        retryAfter = Number(res.headers["retry-after"] ?? 0.1) || 0.1;
      } catch {
        status = 0;
      }
      count(status);
      if (status === 202) {
        result.accepted.set(user, (JSON.parse(body) as { orderId: string }).orderId);
        result.acceptLatencies.push(performance.now() - t0);
        return;
      }
      if (status !== 0 && status !== 503 && status !== 429 && status < 500) return; // a final refusal (410, 409, 403)
      await new Promise((r) => setTimeout(r, retryAfter * 1000));
    }
    result.unresolved++;
  }

  async function worker() {
    for (;;) {
      if (opts.until?.()) return;
      const i = next++;
      if (i >= opts.users) return;
      // Pace: buyer i starts no earlier than i / rate seconds in.
      const due = started + (i / opts.ratePerSec) * 1000;
      if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
      const user = `${prefix}-${i}`;
      await buy(user, await signUserToken(opts.jwtSecret, user, 3600));
    }
  }

  await Promise.all(Array.from({ length: opts.concurrency ?? 64 }, worker));
  await dispatcher.close();
  return result;
}

export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}
