import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAdminRoutes } from "../../apps/admin/app.js";
import { createApi } from "../../apps/api/app.js";
import { signUserToken } from "../../apps/core/jwt.js";
import { createLogger } from "../../apps/core/logger.js";
import { listen } from "../../apps/core/serve.js";
import { createServices, type Services } from "../../apps/core/services.js";
import { createGateway } from "../../apps/gateway/app.js";
import { freePort } from "../../infra/processes.js";
import { randomId, testConfig, testServices } from "../helpers/env.js";
import { startTestPlatform, type TestPlatform } from "../helpers/platform.js";
import { watchRedis } from "../helpers/redis.js";
import { createSaleVia } from "../helpers/sales.js";
import { deferred, eventually, sleep } from "../helpers/wait.js";

let p: TestPlatform;
beforeAll(async () => {
  // Background loops off (relay, sold-out refresh, admission ticks) so every Redis command in a window below is a request's.
  p = await startTestPlatform({
    handoff: { relayIntervalMs: 600_000 },
    soldOutRefreshMs: 600_000,
    admitTickMs: 600_000,
    env: { MAX_INFLIGHT_PURCHASES: "100000" },
  });
});
afterAll(() => p.stop());

const counter = async (
  c: { get(): Promise<{ values: { value: number; labels: Record<string, string | number> }[] }> },
  label?: [string, string],
) => (await c.get()).values.filter((v) => !label || v.labels[label[0]] === label[1]).reduce((s, v) => s + v.value, 0);

describe("gateway", () => {
  it("once sold out, 10,000 more purchases reach neither Redis nor the API", async () => {
    const saleId = await p.createSale({ stock: 3 });
    for (let i = 0; i < 3; i++) expect((await p.buy(saleId, await p.token(`early-${i}`))).status).toBe(202);
    await eventually("the sold-out broadcast reached the gateway", () => p.gateway.soldOut.isSoldOut(saleId));
    const tokens = await Promise.all(Array.from({ length: 10_000 }, (_, i) => p.token(`late-${i}`)));

    const apiBefore = await counter(p.services.metrics.purchases);
    const rejectedBefore = await counter(p.services.metrics.gatewayRejections, ["reason", "sold_out"]);
    const watch = await watchRedis(p.services.config.REDIS_KEY_PREFIX);

    const statuses = new Map<number, number>();
    for (let i = 0; i < tokens.length; i += 1000) {
      const batch = await Promise.all(tokens.slice(i, i + 1000).map((t) => p.buy(saleId, t)));
      for (const r of batch) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    }
    const seen = await watch.stop();

    expect(Object.fromEntries(statuses)).toEqual({ 410: 10_000 });
    expect(seen).toEqual([]);
    expect(await counter(p.services.metrics.purchases)).toBe(apiBefore);
    expect(await counter(p.services.metrics.gatewayRejections, ["reason", "sold_out"])).toBe(rejectedBefore + 10_000);
    // The flag comes before the token (the state is public; a JWT costs more than the rest of the path).
    expect((await p.buy(saleId, "not-a-jwt")).status).toBe(410);
  });

  it("the token bucket admits the burst, then the sustained rate, and its Retry-After is honest", async () => {
    const saleId = await p.createSale({ stock: 1000 });
    const token = await p.token(randomId("bursty-"));
    const admitted = (r: Response) => r.status !== 429;

    // Each attempt with an Idempotency-Key of its own: the gateway never answers those from its
    // memory of a 409 (one may be a replay of the 202), so every attempt meets the bucket.
    const attempt = () => p.buy(saleId, token, { headers: { "idempotency-key": randomId("k-") } });
    // At once: 5 for this second plus the burst of 10.
    const first: Response[] = [];
    for (let i = 0; i < 30; i++) first.push(await attempt());
    expect(first.filter(admitted)).toHaveLength(15);
    const limited = first.find((r) => r.status === 429)!;
    expect(((await limited.json()) as { error: { code: string } }).error.code).toBe("rate_limited");
    const retryAfter = Number(limited.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(1);

    // Honest: after waiting what it said, the next request is admitted.
    await sleep(retryAfter * 1000 + 50);
    expect(admitted(await attempt())).toBe(true);

    // Sustained, for 3 s, with the burst spent: about 5 a second (fixed windows: 3 s overlap at most 4 of them).
    let sustained = 0;
    const until = Date.now() + 3000;
    while (Date.now() < until) {
      if (admitted(await attempt())) sustained++;
      await sleep(20);
    }
    expect(sustained).toBeGreaterThanOrEqual(10);
    expect(sustained).toBeLessThanOrEqual(20);
  });

  it("purchases of made-up sale ids meet the token bucket before any lookup: a user cannot make MySQL look up unknown sales at will", async () => {
    const token = await p.token(randomId("prober-"));
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) statuses.push((await p.buy(randomId("no-such-sale-"), token)).status);
    // 5 for this second plus the burst of 10 are looked up (404); the rest are refused first.
    expect(statuses.filter((s) => s === 404)).toHaveLength(15);
    expect(statuses.filter((s) => s === 429)).toHaveLength(15);
  });

  it("a buyer the API answered 409 is answered from the gateway's memory, with no Redis call, but a replay still gets its 202", async () => {
    const saleId = await p.createSale({ stock: 100 });
    const token = await p.token(randomId("holder-"));
    const answer = async (res: Response) => ({ status: res.status, body: (await res.json()) as Record<string, unknown> });
    const first = await answer(await p.buy(saleId, token, { headers: { "idempotency-key": "first-press" } }));
    expect(first).toMatchObject({ status: 202, body: { status: "queued" } });
    const orderId = first.body.orderId as string;
    // From the API: now remembered.
    expect(await answer(await p.buy(saleId, token))).toMatchObject({ status: 409, body: { error: { code: "already_purchased" } } });
    // The order's handoff record is dropped once Kafka has it: let that happen before watching Redis.
    await eventually("the order reached Kafka", async () => (await p.stats(saleId)).pendingHandoff === 0);

    const fromMemoryBefore = await counter(p.services.metrics.gatewayRejections, ["reason", "already_purchased"]);
    const watch = await watchRedis(p.services.config.REDIS_KEY_PREFIX);
    const again = await Promise.all(Array.from({ length: 200 }, () => p.buy(saleId, token)));
    const seen = await watch.stop();
    expect(again.map((r) => r.status)).toEqual(Array(200).fill(409));
    expect(((await again[0].json()) as { error: { code: string } }).error.code).toBe("already_purchased");
    expect(seen).toEqual([]);
    expect(await counter(p.services.metrics.gatewayRejections, ["reason", "already_purchased"])).toBe(fromMemoryBefore + 200);

    // The lost 202, asked for again with its key, is answered by the API as the original.
    const replay = await p.buy(saleId, token, { headers: { "idempotency-key": "first-press" } });
    expect(replay.status).toBe(202);
    expect(((await replay.json()) as { orderId: string }).orderId).toBe(orderId);
  });

  it("after the sell-out, a buyer replaying the Idempotency-Key of a 202 they never saw gets that order, not 410", async () => {
    const saleId = await p.createSale({ stock: 1 });
    const token = await p.token(randomId("lost-answer-"));
    const first = await p.buy(saleId, token, { headers: { "idempotency-key": "lost-202" } });
    expect(first.status).toBe(202);
    const { orderId } = (await first.json()) as { orderId: string };
    await eventually("the gateway holds the sold-out flag", () => p.gateway.soldOut.isSoldOut(saleId));
    expect((await p.buy(saleId, await p.token(randomId("late-")))).status).toBe(410);
    const replay = await p.buy(saleId, token, { headers: { "idempotency-key": "lost-202" } });
    expect(replay.status).toBe(202);
    expect(((await replay.json()) as { orderId: string }).orderId).toBe(orderId);
    // A key of a buyer who never bought still learns the sale is sold out (from the API).
    expect((await p.buy(saleId, await p.token(randomId("keyed-")), { headers: { "idempotency-key": "k1" } })).status).toBe(410);
  });

  it("a buyer whose order closed may buy again at once: the restock broadcast clears the gateway's memory of that sale", async () => {
    const saleId = await p.createSale({ stock: 10 });
    const userId = randomId("closer-");
    const token = await p.token(userId);
    const first = (await (await p.buy(saleId, token)).json()) as { orderId: string };
    expect((await p.buy(saleId, token)).status).toBe(409);
    expect(p.gateway.holders.holds(saleId, userId)).toBe(true);
    // Another sale's buyer, remembered too, is not this restock's business.
    p.gateway.holders.remember("other-sale", userId);

    // The order closes unpaid: its unit and the buyer's slot come back (release-4.lua), and the
    // restock broadcast reaches the gateway well inside the memory's 10 s.
    expect(await p.api.ctx.store.release(saleId, first.orderId, userId, 1)).toMatchObject({ kind: "released" });
    await eventually("the restock broadcast cleared the memory", () => !p.gateway.holders.holds(saleId, userId), 3000);
    expect(p.gateway.holders.holds("other-sale", userId)).toBe(true);
    const second = await p.buy(saleId, token);
    expect(second.status).toBe(202);
    expect(((await second.json()) as { orderId: string }).orderId).not.toBe(first.orderId);
  });

  it("sheds load above the in-flight limit with 503 overloaded and Retry-After, returned not thrown", async () => {
    const saleId = await p.createSale({ stock: 10 });
    const services: Services = await testServices({ MAX_INFLIGHT_PURCHASES: "2" });
    const release = deferred();
    let reached = 0;
    const gateway = createGateway({
      services,
      // A stand-in API that holds every request until released: only the gateway's logic is under test.
      apiFetch: async () => {
        reached++;
        await release.promise;
        return Response.json({ orderId: "held", status: "queued" }, { status: 202 });
      },
    });
    try {
      const tokens = await Promise.all(
        ["a", "b", "c", "d", "e"].map((u) => signUserToken(services.config.JWT_SECRET, `${u}-${randomId()}`)),
      );
      const pending = tokens.map((t) =>
        Promise.resolve(
          gateway.app.request(`/api/sales/${saleId}/orders`, { method: "POST", headers: { authorization: `Bearer ${t}` }, body: "{}" }),
        ),
      );
      await eventually("two purchases reached the API", () => reached === 2);
      release.resolve();
      const responses = await Promise.all(pending);
      const shed = responses.filter((r) => r.status === 503);
      expect(responses.filter((r) => r.status === 202)).toHaveLength(2);
      expect(shed).toHaveLength(3);
      for (const r of shed) {
        expect(r.headers.get("retry-after")).toBe("1");
        expect(((await r.json()) as { error: { code: string } }).error.code).toBe("overloaded");
      }
      expect(await counter(services.metrics.gatewayRejections, ["reason", "overloaded"])).toBe(3);
    } finally {
      release.resolve();
      await gateway.stop();
      await services.close();
    }
  });

  it("forwards users named in any script over HTTP to a separate API byte-exact: José in NFC and in NFD and auth0|... are three buyers", async () => {
    const apiPort = await freePort();
    const config = await testConfig();
    const apiServices = createServices(config, createLogger({ level: "silent" }));
    const gwServices = createServices({ ...config, API_URL: `http://127.0.0.1:${apiPort}` }, createLogger({ level: "silent" }));
    const api = createApi({ services: apiServices });
    await api.start();
    const http = await listen(api.app, "127.0.0.1", apiPort);
    const gateway = createGateway({ services: gwServices, admin: createAdminRoutes({ services: gwServices }) });
    await gateway.start();
    try {
      const saleId = await createSaleVia(gateway.app, config.ADMIN_TOKEN, { stock: 5, priceCents: 1 });
      const nfc = `Jos\u00e9-${randomId()}`;
      const users = [nfc, nfc.normalize("NFD"), `auth0|${randomId()}`, `\u5f20\u4e09-${randomId()}`];
      const orderIds: string[] = [];
      for (const u of users) {
        const token = await signUserToken(config.JWT_SECRET, u);
        const res = await gateway.app.request(`/api/sales/${saleId}/orders`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}` },
          body: "{}",
        });
        expect([u, res.status]).toEqual([u, 202]);
        orderIds.push(((await res.json()) as { orderId: string }).orderId);
      }
      // Each is the buyer of its own order only, and the API stored each id byte for byte.
      for (const [i, u] of users.entries()) {
        const token = await signUserToken(config.JWT_SECRET, u);
        for (const [j, orderId] of orderIds.entries()) {
          const read = await gateway.app.request(`/api/orders/${orderId}`, { headers: { authorization: `Bearer ${token}` } });
          expect([u, orderId, read.status]).toEqual([u, orderId, i === j ? 200 : 404]);
        }
      }
      const buyers = await apiServices.redis.hkeys(`${config.REDIS_KEY_PREFIX}{sale:${saleId}}:buyers`);
      expect(buyers.sort()).toEqual([...users].sort());
    } finally {
      await http.close();
      await gateway.stop();
      await api.stop();
      await gwServices.close();
      await apiServices.close();
    }
  });

  it("forwards over HTTP to a separate API process (API_URL), and answers 503 when that API is down", async () => {
    const apiPort = await freePort();
    const config = await testConfig();
    const apiServices = createServices(config, createLogger({ level: "silent" }));
    const gwServices = createServices({ ...config, API_URL: `http://127.0.0.1:${apiPort}` }, createLogger({ level: "silent" }));
    const api = createApi({ services: apiServices });
    await api.start();
    const http = await listen(api.app, "127.0.0.1", apiPort);
    const gateway = createGateway({ services: gwServices, admin: createAdminRoutes({ services: gwServices }) });
    await gateway.start();
    try {
      const saleId = await createSaleVia(gateway.app, config.ADMIN_TOKEN, { stock: 5, priceCents: 1 });

      const token = await signUserToken(config.JWT_SECRET, "split-user");
      const buy = () =>
        gateway.app.request(`/api/sales/${saleId}/orders`, { method: "POST", headers: { authorization: `Bearer ${token}` }, body: "{}" });
      const ok = await buy();
      expect(ok.status).toBe(202);
      const { orderId } = (await ok.json()) as { orderId: string };
      const read = await gateway.app.request(`/api/orders/${orderId}`, { headers: { authorization: `Bearer ${token}` } });
      expect(read.status).toBe(200);
      expect(((await read.json()) as { status: string }).status).toBe("queued");
      // The API trusts the user header only when the gateway vouches for it.
      const direct = await fetch(`http://127.0.0.1:${apiPort}/api/orders/${orderId}`, { headers: { "x-seckill-user": "split-user" } });
      expect(direct.status).toBe(401);

      await http.close();
      const down = await buy();
      expect(down.status).toBe(503);
      expect(down.headers.get("retry-after")).toBe("1");
      expect(((await down.json()) as { error: { code: string } }).error.code).toBe("unavailable");
    } finally {
      await gateway.stop();
      await api.stop();
      await gwServices.close();
      await apiServices.close();
    }
  });

  it("limits requests without a valid token per client address, trusting X-Forwarded-For only through the configured hops", async () => {
    const services = await testServices({ TRUSTED_PROXY_HOPS: "1", UNAUTHENTICATED_PER_IP_PER_SEC: "3" });
    const gateway = createGateway({ services, apiFetch: () => new Response(null, { status: 500 }) });
    try {
      const attempt = (xff: string) =>
        Promise.resolve(
          gateway.app.request("/api/sales/any/orders", {
            method: "POST",
            headers: { authorization: "Bearer junk", "x-forwarded-for": xff },
          }),
        );
      const fromOne = await Promise.all(Array.from({ length: 5 }, (_, i) => attempt(`10.9.9.${i}, 203.0.113.7`)));
      expect(fromOne.map((r) => r.status)).toEqual([401, 401, 401, 429, 429]);
      // Another client behind the same proxy is not punished for it.
      expect((await attempt("203.0.113.8")).status).toBe(401);
    } finally {
      await gateway.stop();
      await services.close();
    }
  });

  it("a restock broadcast, or stock seen again in Redis, reopens a sold-out sale at the gateway", async () => {
    const saleId = await p.createSale({ stock: 1 });
    expect((await p.buy(saleId, await p.token("only-one"))).status).toBe(202);
    await eventually("sold out at the gateway", () => p.gateway.soldOut.isSoldOut(saleId));
    await p.services.redis.publish(p.api.ctx.store.global.restockChannel, saleId);
    await eventually("reopened by the restock broadcast", () => !p.gateway.soldOut.isSoldOut(saleId));

    p.gateway.soldOut.markSoldOut(saleId);
    await p.services.redis.incr(p.api.ctx.store.keys(saleId).stock);
    await p.gateway.soldOut.refresh();
    expect(p.gateway.soldOut.isSoldOut(saleId)).toBe(false);
  });
});
