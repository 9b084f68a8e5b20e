import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { solvePow } from "../../apps/domain/admission/challenge.js";
import { createPasses } from "../../apps/domain/admission/pass.js";
import { shuffleScore } from "../../apps/domain/admission/shuffle.js";
import { ownDatabase, randomId } from "../helpers/env.js";
import { startTestPlatform, type TestPlatform } from "../helpers/platform.js";
import { watchRedis } from "../helpers/redis.js";
import { eventually, sleep } from "../helpers/wait.js";

let p: TestPlatform;
let db: Awaited<ReturnType<typeof ownDatabase>>;
beforeAll(async () => {
  // A database of its own: the sales table as this branch's migrations make it, whatever else shares the test server.
  db = await ownDatabase();
  p = await startTestPlatform({ env: { DATABASE_URL: db.url }, handoff: { relayIntervalMs: 600_000 }, soldOutRefreshMs: 600_000 });
});
afterAll(async () => {
  await p.stop();
  await db.drop();
});

type Body = Record<string, unknown> & { error?: { code: string; message: string } };
async function call(method: string, path: string, token?: string, init: { body?: unknown; headers?: Record<string, string> } = {}) {
  const res = await p.gateway.app.request(path, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), "content-type": "application/json", ...init.headers },
    body: init.body === undefined ? (method === "GET" ? undefined : "{}") : JSON.stringify(init.body),
  });
  return { status: res.status, body: (await res.json()) as Body };
}
const buy = (saleId: string, token: string, pass?: string) =>
  call("POST", `/api/sales/${saleId}/orders`, token, { headers: pass ? { "x-purchase-pass": pass } : {} });

describe("waiting room over HTTP", () => {
  it("joiners before the start are admitted in the committed seed's order, buy with their pass, and everyone else is then told sold out", async () => {
    const startsAt = new Date(Date.now() + 2500);
    const saleId = await p.createSale({ stock: 3, admission: "queue", inletPerSecond: 50, startsAt });
    const users = Array.from({ length: 8 }, (_, i) => `qu-${i}-${randomId()}`);
    const tokens = new Map(await Promise.all(users.map(async (u) => [u, await p.token(u)] as const)));

    const upcoming = await call("GET", `/api/sales/${saleId}`);
    expect(upcoming.body).toMatchObject({ state: "upcoming", admission: "queue" });
    expect(upcoming.body.queueSeedCommitment).toMatch(/^[0-9a-f]{64}$/);
    expect(upcoming.body.queueSeed).toBeUndefined();

    for (const u of users) {
      const joined = await call("POST", `/api/sales/${saleId}/queue`, tokens.get(u));
      expect(joined.status).toBe(202);
      expect(joined.body).toMatchObject({ state: "waiting" });
      expect(joined.body.estimatedWaitSeconds).toBeGreaterThan(0);
      expect(joined.body.pollAfterSeconds).toBeGreaterThanOrEqual(1);
    }
    const again = await call("POST", `/api/sales/${saleId}/queue`, tokens.get(users[0]));
    const now = await call("GET", `/api/sales/${saleId}/queue`, tokens.get(users[0]));
    expect(again.body.position).toBe(now.body.position);
    expect((await call("GET", `/api/sales/${saleId}/queue`, await p.token("stranger"))).body.error?.code).toBe("not_in_queue");
    expect((await call("GET", `/api/sales/${saleId}/queue`, await p.token("stranger"))).status).toBe(404);

    await sleep(Math.max(0, startsAt.getTime() - Date.now() + 50));
    const open = await call("GET", `/api/sales/${saleId}`);
    const seed = open.body.queueSeed as string;
    expect(createHash("sha256").update(seed).digest("hex")).toBe(upcoming.body.queueSeedCommitment);
    const order = [...users].sort((a, b) => shuffleScore(seed, a) - shuffleScore(seed, b));

    // Everyone polls until three are admitted (the API's admitter ticks every 100 ms).
    const passes = new Map<string, string>();
    await eventually("three admitted", async () => {
      for (const u of users) {
        const s = await call("GET", `/api/sales/${saleId}/queue`, tokens.get(u));
        if (s.body.state === "admitted") passes.set(u, s.body.pass as string);
      }
      return passes.size === 3;
    });
    expect([...passes.keys()].sort()).toEqual(order.slice(0, 3).sort());
    const [first] = order;
    const waiter = order[3];

    expect((await buy(saleId, tokens.get(waiter)!)).body.error?.code).toBe("pass_required");
    const borrowed = await buy(saleId, tokens.get(waiter)!, passes.get(first));
    expect(borrowed.status).toBe(403);
    expect(borrowed.body.error?.code).toBe("invalid_pass");
    for (const u of order.slice(0, 3)) expect((await buy(saleId, tokens.get(u)!, passes.get(u))).body).toMatchObject({ status: "queued" });

    // The stock is 0: every waiter's next read says so, and a newcomer is turned away at once.
    for (const u of order.slice(3)) {
      const s = await call("GET", `/api/sales/${saleId}/queue`, tokens.get(u));
      expect(s.body.state).toBe("sold_out");
    }
    const late = await call("POST", `/api/sales/${saleId}/queue`, await p.token("latecomer"));
    expect(late.status).toBe(410);
    expect(late.body.error?.code).toBe("sold_out");

    const stats = await eventually("the buyers' places closed", async () => {
      const s = (await p.stats(saleId)) as unknown as { admission: Record<string, number> };
      return s.admission.bought === 3 ? s : null;
    });
    expect(stats.admission).toMatchObject({ mode: "queue", queueLength: 5, holding: 0, admitted: 3, bought: 3, lapsed: 0, conversion: 1 });
    expect(stats.admission.admissionRatePerSecond).toBeGreaterThan(0);

    const patched = await p.gateway.app.request(`/admin/sales/${saleId}`, {
      method: "PATCH",
      headers: { authorization: `Bearer ${p.services.config.ADMIN_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ inletPerSecond: 7 }),
    });
    expect(patched.status).toBe(200);
    expect(((await p.stats(saleId)) as unknown as { admission: { inletPerSecond: number } }).admission.inletPerSecond).toBe(7);
    const metrics = await p.services.registry.getSingleMetricAsString("seckill_queue_admitted_total");
    expect(metrics).toContain(`sale="${saleId}"`);
  });
});

describe("a waiting-room pass buys once", () => {
  it("a unit that comes back goes to the queue's head: the buyer whose order closed cannot buy it again with the pass it already used", async () => {
    const startsAt = new Date(Date.now() + 1500);
    // The admission window outlives the order's payment window, as it may (10-3600 s vs any timeout).
    const saleId = await p.createSale({ stock: 1, admission: "queue", inletPerSecond: 50, admissionWindowSeconds: 600, startsAt });
    const [first, second] = [`head-${randomId()}`, `next-${randomId()}`];
    const tokens = { [first]: await p.token(first), [second]: await p.token(second) };
    for (const u of [first, second]) expect((await call("POST", `/api/sales/${saleId}/queue`, tokens[u])).status).toBe(202);
    await sleep(Math.max(0, startsAt.getTime() - Date.now() + 50));
    const admitted = await eventually("one admitted", async () => {
      for (const u of [first, second]) {
        const s = await call("GET", `/api/sales/${saleId}/queue`, tokens[u]);
        if (s.body.state === "admitted") return { user: u, pass: s.body.pass as string };
      }
      return null;
    });
    const other = admitted.user === first ? second : first;
    const bought = await buy(saleId, tokens[admitted.user], admitted.pass);
    expect(bought.status).toBe(202);
    const orderId = bought.body.orderId as string;

    // The buyer does not pay: the expiry worker closes the order and returns its unit (slot 1).
    expect((await p.api.ctx.store.release(saleId, orderId, admitted.user, 1)).kind).toBe("released");
    const next = await eventually("the next in line admitted for the returned unit", async () => {
      const s = await call("GET", `/api/sales/${saleId}/queue`, tokens[other]);
      return s.body.state === "admitted" ? (s.body.pass as string) : null;
    });
    const again = await buy(saleId, tokens[admitted.user], admitted.pass);
    expect([again.status, again.body.error?.code]).toEqual([403, "invalid_pass"]);
    expect((await buy(saleId, tokens[other], next)).status).toBe(202);
  });

  it("a replay of a waiting-room purchase with its Idempotency-Key returns the first order after the place is spent", async () => {
    const saleId = await p.createSale({ stock: 2, admission: "queue", inletPerSecond: 50 });
    const u = `replayer-${randomId()}`;
    const token = await p.token(u);
    expect((await call("POST", `/api/sales/${saleId}/queue`, token)).status).toBe(202);
    const pass = await eventually("admitted", async () => {
      const s = await call("GET", `/api/sales/${saleId}/queue`, token);
      return s.body.state === "admitted" ? (s.body.pass as string) : null;
    });
    const headers = { "x-purchase-pass": pass, "idempotency-key": `k-${randomId()}` };
    const firstTry = await call("POST", `/api/sales/${saleId}/orders`, token, { headers });
    expect(firstTry.status).toBe(202);
    const replay = await call("POST", `/api/sales/${saleId}/orders`, token, { headers });
    expect([replay.status, replay.body.orderId]).toEqual([202, firstTry.body.orderId]);
  });
});

describe("purchase passes over HTTP", () => {
  it("no challenge before the start; a solved challenge buys one pass; forged, expired, another user's or sale's passes are refused", async () => {
    const upcoming = await p.createSale({
      admission: "pass",
      startsAt: new Date(Date.now() + 3_600_000),
      endsAt: new Date(Date.now() + 7_200_000),
    });
    const ann = await p.token("ann");
    const early = await call("GET", `/api/sales/${upcoming}/challenge`, ann);
    expect(early.status).toBe(403);
    expect(early.body.error?.code).toBe("sale_not_started");

    const saleId = await p.createSale({ admission: "pass", powDifficultyBits: 10, stock: 10 });
    const other = await p.createSale({ admission: "pass", powDifficultyBits: 10, stock: 10 });
    const c = await call("GET", `/api/sales/${saleId}/challenge`, ann);
    expect(c.status).toBe(200);
    expect(c.body).toMatchObject({ algorithm: "sha256-pow", difficultyBits: 10 });
    expect(Date.parse(c.body.expiresAt as string)).toBeGreaterThan(Date.now());
    const nonce = solvePow(c.body.prefix as string, 10);

    let wrong = 0;
    while (createHash("sha256").update(`${c.body.prefix}${wrong}`).digest()[0] === 0) wrong++;
    const bad = await call("POST", `/api/sales/${saleId}/pass`, ann, { body: { challengeId: c.body.challengeId, nonce: String(wrong) } });
    expect(bad.body).toMatchObject({ error: { code: "bad_solution" } });
    expect(bad.status).toBe(400);
    expect(bad.body.error?.code).toBe("bad_solution");
    expect(
      (await call("POST", `/api/sales/${saleId}/pass`, await p.token("bob"), { body: { challengeId: c.body.challengeId, nonce } })).status,
    ).toBe(403);

    const got = await call("POST", `/api/sales/${saleId}/pass`, ann, { body: { challengeId: c.body.challengeId, nonce } });
    expect(got.status).toBe(200);
    const pass = got.body.pass as string;
    const reused = await call("POST", `/api/sales/${saleId}/pass`, ann, { body: { challengeId: c.body.challengeId, nonce } });
    expect(reused.status).toBe(403);
    expect(reused.body.error?.code).toBe("invalid_challenge");

    const expired = createPasses(p.services.config.JWT_SECRET).issue(saleId, "ann", Date.now() - 1);
    const forged = `${pass.slice(0, pass.lastIndexOf("."))}.${Buffer.alloc(32).toString("base64url")}`;
    expect((await buy(saleId, ann)).body.error?.code).toBe("pass_required");
    for (const [who, token, sale, bogus] of [
      ["bob with ann's pass", await p.token("bob"), saleId, pass],
      ["ann's pass on another sale", ann, other, pass],
      ["an expired pass", ann, saleId, expired],
      ["a forged pass", ann, saleId, forged],
    ] as const) {
      const r = await buy(sale, token, bogus);
      expect({ who, status: r.status, code: r.body.error?.code }).toEqual({ who, status: 403, code: "invalid_pass" });
    }

    // Refusals are made in the gateway's memory, before the token bucket: no Redis command.
    const watch = await watchRedis(p.services.config.REDIS_KEY_PREFIX);
    const refused = await Promise.all(Array.from({ length: 50 }, (_, i) => buy(saleId, ann, i % 2 ? forged : undefined)));
    // What these purchases would touch: the sale's keys or the token bucket (the admitters' ticks for other sales may run meanwhile).
    const rl = `${p.services.config.REDIS_KEY_PREFIX}rl`;
    expect((await watch.stop()).filter((line) => line.includes(`{sale:${saleId}}`) || line.includes(rl))).toEqual([]);
    expect(new Set(refused.map((r) => r.status))).toEqual(new Set([403]));

    expect((await buy(saleId, ann, pass)).status).toBe(202);
    expect((await buy(saleId, ann, pass)).body.error?.code).toBe("already_purchased");
    const stats = (await p.stats(saleId)) as unknown as { admission: Record<string, unknown> };
    expect(stats.admission).toMatchObject({ mode: "pass", passesIssued: 1, conversion: 1 });
  });

  it("an open sale has neither challenges nor a waiting room, and buys without a pass", async () => {
    const saleId = await p.createSale({ stock: 5 });
    const t = await p.token(randomId("open-"));
    expect((await call("GET", `/api/sales/${saleId}/challenge`, t)).status).toBe(404);
    expect((await call("POST", `/api/sales/${saleId}/queue`, t)).status).toBe(404);
    expect((await call("GET", `/api/sales/${saleId}`)).body.admission).toBeUndefined();
    expect((await buy(saleId, t)).status).toBe(202);
  });
});
