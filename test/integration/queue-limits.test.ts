import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listen } from "../../apps/core/serve.js";
import { randomId } from "../helpers/env.js";
import { startTestPlatform, type TestPlatform } from "../helpers/platform.js";
import { watchRedis } from "../helpers/redis.js";
import { sleep } from "../helpers/wait.js";

/**
 * The waiting room's per-user, per-sale limit (QUEUE_RATE_LIMIT_PER_SEC; 5 a second here, 100 by default),
 * over a real listener as a client calls it. The sales start in an hour: nobody is admitted and
 * nobody joins ahead of anyone during a test, so a place that moves was moved by the flood.
 */
let p: TestPlatform;
let http: Awaited<ReturnType<typeof listen>>;
beforeAll(async () => {
  // The admission tick off: every Redis command naming a sale below is a request's.
  p = await startTestPlatform({
    handoff: { relayIntervalMs: 600_000 },
    soldOutRefreshMs: 600_000,
    admitTickMs: 600_000,
    env: { QUEUE_RATE_LIMIT_PER_SEC: "5" },
  });
  http = await listen(p.gateway.app, "127.0.0.1", 0);
});
afterAll(async () => {
  await http?.close();
  await p?.stop();
});

type Answer = { status: number; retryAfter: string | null; body: Record<string, unknown> & { error?: { code: string; saleId?: string } } };
async function queue(method: "GET" | "POST", saleId: string, token: string): Promise<Answer> {
  const res = await fetch(`http://127.0.0.1:${http.port}/api/sales/${saleId}/queue`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: method === "POST" ? "{}" : undefined,
  });
  return { status: res.status, retryAfter: res.headers.get("retry-after"), body: (await res.json()) as Answer["body"] };
}
const upcomingQueueSale = () =>
  p.createSale({
    stock: 10,
    admission: "queue",
    startsAt: new Date(Date.now() + 3_600_000),
    endsAt: new Date(Date.now() + 7_200_000),
  });
const statuses = (answers: Answer[]) => answers.map((a) => a.status).sort();

describe("the waiting room's per-user limit", () => {
  it("a user polling 50 times at once gets 429s with Retry-After that touch nothing but the limiter, and keeps the same place; another user polling normally is unaffected", async () => {
    const saleId = await upcomingQueueSale();
    const [flooder, honest] = [`flooder-${randomId()}`, `honest-${randomId()}`];
    const tokens = { flooder: await p.token(flooder), honest: await p.token(honest) };
    const joined = { flooder: await queue("POST", saleId, tokens.flooder), honest: await queue("POST", saleId, tokens.honest) };
    expect([joined.flooder.status, joined.honest.status]).toEqual([202, 202]);
    // Read once both joined: before the start a later joiner may be placed ahead by the seed.
    const place = (await queue("GET", saleId, tokens.flooder)).body.position;
    const honestPlace = (await queue("GET", saleId, tokens.honest)).body.position;
    expect([place, honestPlace].sort()).toEqual([1, 2]);
    await sleep(1100); // a fresh window: the joins are not what gets refused

    const prefix = p.services.config.REDIS_KEY_PREFIX;
    const watch = await watchRedis(prefix);
    const [flood, normal] = await Promise.all([
      Promise.all(Array.from({ length: 50 }, () => queue("GET", saleId, tokens.flooder))),
      // Polls a second apart, the fastest pollAfterSeconds ever says.
      (async () => {
        const answers: Answer[] = [];
        for (let i = 0; i < 3; i++) {
          if (i > 0) await sleep(1000);
          answers.push(await queue("GET", saleId, tokens.honest));
        }
        return answers;
      })(),
    ]);
    const seen = await watch.stop();

    const refused = flood.filter((a) => a.status === 429);
    const answered = flood.filter((a) => a.status === 200);
    expect(refused.length).toBeGreaterThan(0);
    expect(answered.length).toBeGreaterThan(0);
    expect(refused.length + answered.length).toBe(50);
    for (const r of refused) {
      expect(r.body.error).toMatchObject({ code: "rate_limited", saleId });
      expect(Number(r.retryAfter)).toBeGreaterThanOrEqual(1);
    }
    for (const a of answered) expect(a.body).toMatchObject({ state: "waiting", position: place });
    expect(normal.map((a) => [a.status, a.body.position])).toEqual(normal.map(() => [200, honestPlace]));

    // What the flood cost in Redis: the limiter's check (at most one per call) and one status read
    // per answered poll; the refused ones reached no queue key. (Commands a script ran are listed
    // by MONITOR as `[db lua]`: counted with the script.)
    const flooders = seen.filter((line) => line.includes(flooder) && !/^\S+ \[\d+ lua\]/.test(line));
    const limiter = flooders.filter((line) => line.includes(`${prefix}rl:queue:${saleId}:${flooder}`));
    const room = flooders.filter((line) => line.includes(`{sale:${saleId}}`));
    expect(limiter.length).toBeGreaterThan(0);
    expect(limiter.length).toBeLessThanOrEqual(50);
    expect(room.length).toBe(answered.length);
    expect(flooders.length).toBe(limiter.length + room.length);

    // After Retry-After the flooder polls again and holds the same place.
    await sleep(Math.max(...refused.map((r) => Number(r.retryAfter))) * 1000);
    const after = await queue("GET", saleId, tokens.flooder);
    expect([after.status, after.body.position]).toEqual([200, place]);
    const metrics = await p.services.registry.getSingleMetricAsString("seckill_admission_requests_total");
    expect(metrics).toMatch(/call="queue_status",outcome="rate_limited"\} [1-9]/);
  });

  it("a join flood by one user gets 429s and leaves one place, the same in every answer", async () => {
    const saleId = await upcomingQueueSale();
    const user = `joiner-${randomId()}`;
    const token = await p.token(user);
    const flood = await Promise.all(Array.from({ length: 50 }, () => queue("POST", saleId, token)));
    expect(new Set(statuses(flood))).toEqual(new Set([202, 429]));
    const places = new Set(flood.filter((a) => a.status === 202).map((a) => a.body.position));
    expect(places).toEqual(new Set([1]));
    for (const r of flood.filter((a) => a.status === 429)) {
      expect(r.body.error?.code).toBe("rate_limited");
      expect(Number(r.retryAfter)).toBeGreaterThanOrEqual(1);
    }
    const stats = (await p.stats(saleId)) as unknown as { admission: Record<string, number> };
    expect(stats.admission).toMatchObject({ queueLength: 1, joined: 1 });
  });
});
