import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sales } from "../../apps/core/db/schema/index.js";
import { duplicateClient, type Redis } from "../../apps/core/redis.js";
import { createSubscriber } from "../../apps/core/subscriber.js";
import { createSaleCache } from "../../apps/domain/sale-cache.js";
import { watchSaleChanges } from "../../apps/domain/sale-changes.js";
import { startTestPlatform, type TestPlatform } from "../helpers/platform.js";
import { deferred, eventually, sleep } from "../helpers/wait.js";

/**
 * Two instances of one deployment (same REDIS_KEY_PREFIX, Kafka topics and MySQL), each with its
 * gateway, API and admin, each with its own Redis connections and in-memory sale copies, as two
 * processes would have. An admin change made on `a` reaches `b`'s gateway and API through the
 * sale-changed broadcast, long before their copies expire (4-6 s).
 */
let a: TestPlatform;
let b: TestPlatform;
beforeAll(async () => {
  a = await startTestPlatform();
  const { REDIS_KEY_PREFIX, KAFKA_TOPIC_PREFIX } = a.services.config;
  b = await startTestPlatform({ env: { REDIS_KEY_PREFIX, KAFKA_TOPIC_PREFIX } });
});
afterAll(async () => {
  await b?.stop();
  await a?.stop();
});

const patch = (p: TestPlatform, saleId: string, body: unknown) =>
  Promise.resolve(
    p.gateway.app.request(`/admin/sales/${saleId}`, {
      method: "PATCH",
      headers: { authorization: `Bearer ${p.services.config.ADMIN_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    }),
  );
const code = async (res: Response) => ((await res.json()) as { error?: { code: string } }).error?.code;
const saleState = async (p: TestPlatform, saleId: string) =>
  ((await (await p.gateway.app.request(`/api/sales/${saleId}`)).json()) as { state: string }).state;
/** Purchases b's gateway refused itself for `reason` (seckill_gateway_rejections_total). */
const rejections = async (p: TestPlatform, reason: string) =>
  (await p.services.metrics.gatewayRejections.get()).values.filter((v) => v.labels.reason === reason).reduce((s, v) => s + v.value, 0);

// The broadcast travels on the other instance's own subscriber connection, and in one test
// process the next request can run before that socket is read; a real client's next request
// crosses the network. 150 ms stands for that, far below the copies' 4 s minimum lifetime.
const BROADCAST_SETTLE_MS = 150;

describe("the sale-changed broadcast", () => {
  it("a start moved to now by PATCH on one instance sells through the other instance's gateway at once", async () => {
    const saleId = await a.createSale({ startsAt: new Date(Date.now() + 3600_000), endsAt: new Date(Date.now() + 7200_000) });
    // b's gateway and API now hold the sale, not started, in memory.
    const early = await b.buy(saleId, await b.token("early"));
    expect(early.status).toBe(403);
    expect(await code(early)).toBe("sale_not_started");
    expect(await saleState(b, saleId)).toBe("upcoming");

    const res = await patch(a, saleId, { startsAt: new Date().toISOString() });
    expect(res.status).toBe(200);
    await sleep(BROADCAST_SETTLE_MS);

    const bought = await b.buy(saleId, await b.token("first"));
    expect(bought.status).toBe(202);
    expect(await saleState(b, saleId)).toBe("open");
  });

  it("an end extended by PATCH on one instance sells again through the other instance's gateway at once", async () => {
    const endsAt = Date.now() + 1500;
    const saleId = await a.createSale({ endsAt: new Date(endsAt) });
    expect((await b.buy(saleId, await b.token("before-end"))).status).toBe(202); // b holds the sale in memory
    await sleep(endsAt - Date.now() + 50);
    const late = await b.buy(saleId, await b.token("late"));
    expect(late.status).toBe(403);
    expect(await code(late)).toBe("sale_ended");

    const res = await patch(a, saleId, { endsAt: new Date(Date.now() + 3600_000).toISOString() });
    expect(res.status).toBe(200);
    await sleep(BROADCAST_SETTLE_MS);

    expect((await b.buy(saleId, await b.token("late"))).status).toBe(202);
  });

  it("a sale ended early by PATCH is refused by the other instance's gateway itself at once", async () => {
    const saleId = await a.createSale();
    expect((await b.buy(saleId, await b.token("one"))).status).toBe(202);
    const endedAtGateway = () => rejections(b, "ended");
    const before = await endedAtGateway();

    expect((await patch(a, saleId, { endsAt: new Date().toISOString() })).status).toBe(200);
    await sleep(BROADCAST_SETTLE_MS);

    const after = await b.buy(saleId, await b.token("two"));
    expect(after.status).toBe(403);
    expect(await code(after)).toBe("sale_ended");
    // Refused by b's gateway from its fresh copy, not by the reserve script behind it.
    expect(await endedAtGateway()).toBe(before + 1);
  });

  it("a reload that read MySQL before the PATCH cannot put the old sale back into the shared cache", async () => {
    const saleId = await a.createSale({ startsAt: new Date(Date.now() + 3600_000), endsAt: new Date(Date.now() + 7200_000) });
    await b.api.ctx.saleCache.invalidate(saleId); // cold: the next reload reads MySQL
    // A process whose reload has read MySQL (the sale not started) and is slow to fill Redis.
    const shared = b.api.ctx.store.saleInfoCache;
    const readMySql = deferred();
    const mayFill = deferred();
    const slow = createSaleCache({
      db: b.services.database.db,
      store: {
        saleInfoCache: {
          ...shared,
          set: async (id: string, json: string, ttlMs: number) => {
            readMySql.resolve();
            await mayFill.promise;
            await shared.set(id, json, ttlMs);
          },
        },
      },
    });
    const reload = slow.get(saleId);
    await readMySql.promise;

    expect((await patch(a, saleId, { startsAt: new Date().toISOString() })).status).toBe(200);
    mayFill.resolve(); // the old sale reaches Redis after the PATCH deleted it there
    expect((await reload)?.startsAt).toBeGreaterThan(Date.now()); // its callers got what it read
    await sleep(BROADCAST_SETTLE_MS);

    // b's gateway and API (which dropped their copies on the broadcast) read the sale again:
    // from Redis, which must not hold the old one for its 30 s.
    const bought = await b.buy(saleId, await b.token("after-slow-reload"));
    expect(bought.status).toBe(202);
    expect(await saleState(b, saleId)).toBe("open");
  });

  it("a PATCH whose broadcast cannot be published still answers 200 and keeps the change", async () => {
    const saleId = await a.createSale();
    const redis = a.services.redis;
    const publish = redis.publish;
    redis.publish = (() => Promise.reject(new Error("connection lost"))) as typeof redis.publish;
    try {
      const res = await patch(a, saleId, { title: "renamed while Redis blinked" });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ id: saleId, title: "renamed while Redis blinked" });
    } finally {
      redis.publish = publish;
    }
    const [row] = await a.services.database.db.select().from(sales).where(eq(sales.id, saleId));
    expect(row.title).toBe("renamed while Redis blinked");
  });

  it("a preload that refreshes settings edited in MySQL reaches the other instance's gateway at once", async () => {
    const saleId = await a.createSale({ startsAt: new Date(Date.now() + 3600_000), endsAt: new Date(Date.now() + 7200_000) });
    expect(await code(await b.buy(saleId, await b.token("early")))).toBe("sale_not_started");
    await a.services.database.db
      .update(sales)
      .set({ startsAt: new Date(Date.now() - 1000) })
      .where(eq(sales.id, saleId));
    const res = await a.gateway.app.request(`/admin/sales/${saleId}/preload?force=true`, {
      method: "POST",
      headers: { authorization: `Bearer ${a.services.config.ADMIN_TOKEN}` },
    });
    expect(res.status).toBe(200);
    await sleep(BROADCAST_SETTLE_MS);
    expect((await b.buy(saleId, await b.token("first"))).status).toBe(202);
  });

  it("after its connection drops, the listener reports the reconnect (its owner then drops every copy) and hears broadcasts again", async () => {
    const sub = duplicateClient(a.services.redis);
    const heard: string[] = [];
    let reconnects = 0;
    const subscriber = createSubscriber({ duplicate: () => sub } as unknown as Redis, a.services.logger);
    watchSaleChanges({
      subscriber,
      store: a.api.ctx.store,
      onChange: (saleId) => heard.push(saleId),
      onReconnect: () => reconnects++,
    });
    await subscriber.start();
    try {
      await a.api.ctx.store.announceSaleChanged("before-drop");
      await eventually("the first broadcast is heard", () => heard.includes("before-drop"), 5000);
      expect(reconnects).toBe(0);
      sub.disconnect(true); // as when the server closes it: ioredis reconnects and resubscribes
      await eventually("the listener reconnected", () => reconnects === 1, 10_000);
      await eventually(
        "a broadcast after the reconnect is heard",
        async () => {
          await a.api.ctx.store.announceSaleChanged("after-drop");
          return heard.includes("after-drop");
        },
        10_000,
        200,
      );
    } finally {
      subscriber.stop();
    }
  });
});
