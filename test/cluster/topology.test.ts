import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAdminRoutes } from "../../apps/admin/app.js";
import { type Api, createApi } from "../../apps/api/app.js";
import { orders } from "../../apps/core/db/schema/index.js";
import { signUserToken } from "../../apps/core/jwt.js";
import { createLogger } from "../../apps/core/logger.js";
import { createServices, type Services } from "../../apps/core/services.js";
import type { ReconcileReport } from "../../apps/domain/reconcile.js";
import { createGateway, type Gateway } from "../../apps/gateway/app.js";
import { createLifecycle, type Lifecycle } from "../../apps/lifecycle/worker.js";
import { createOrderWriter, type OrderWriter } from "../../apps/order-writer/writer.js";
import { ownDatabase, testConfig } from "../helpers/env.js";
import { createSaleVia } from "../helpers/sales.js";
import { eventually } from "../helpers/wait.js";

/**
 * Many instances on one stack: 2 gateways (each in front of its own API), 2 APIs, 3 order
 * writers in one consumer group, 2 lifecycle workers, all on the Redis cluster and the test
 * stack's 3-broker Kafka mock, each with connections of its own as separate processes would
 * have. A crowd buys through both gateways; every invariant is checked at the end.
 */
const instances: Services[] = [];
let apis: Api[];
let gateways: Gateway[];
let writers: OrderWriter[];
let lifecycles: Lifecycle[];
let drop: () => Promise<void>;
let main: Services;

beforeAll(async () => {
  const db = await ownDatabase();
  drop = db.drop;
  const config = await testConfig({ DATABASE_URL: db.url, MAX_INFLIGHT_PURCHASES: "100000", RATE_LIMIT_PER_SEC: "1000" });
  const instance = () => {
    const s = createServices(config, createLogger({ level: config.LOG_LEVEL }));
    instances.push(s);
    return s;
  };
  apis = [
    createApi({ services: instance(), handoff: { relayIntervalMs: 200 } }),
    createApi({ services: instance(), handoff: { relayIntervalMs: 200 } }),
  ];
  gateways = apis.map((api) => {
    const services = instance();
    return createGateway({ services, apiFetch: api.app.fetch, admin: createAdminRoutes({ services }), soldOutRefreshMs: 500 });
  });
  writers = [instance(), instance(), instance()].map((s) => createOrderWriter(s, { maxRowsPerSec: 5000 }));
  lifecycles = [instance(), instance()].map((s) =>
    createLifecycle(s, { expiryIntervalMs: 3_600_000, reconcileIntervalMs: 0, reopenIntervalMs: 1000 }),
  );
  main = instances[0];
  await Promise.all([
    ...apis.map((a) => a.start()),
    ...gateways.map((g) => g.start()),
    ...writers.map((w) => w.start()),
    ...lifecycles.map((l) => l.start()),
  ]);
  await Promise.all(writers.map((w) => w.ready()));
}, 120_000);

afterAll(async () => {
  await Promise.all(gateways?.map((g) => g.stop()) ?? []);
  await Promise.all(apis?.map((a) => a.stop()) ?? []);
  await Promise.all(writers?.map((w) => w.stop()) ?? []);
  await Promise.all(lifecycles?.map((l) => l.stop()) ?? []);
  await Promise.all(instances.map((s) => s.close()));
  await drop?.();
});

describe("topology: 2 gateways, 2 APIs, 3 writers, 2 lifecycle workers on the Redis cluster", () => {
  it("a crowd of 2,000 through both gateways against stock 300 over 8 buckets: every invariant holds", async () => {
    const adminToken = main.config.ADMIN_TOKEN;
    const saleId = await createSaleVia(gateways[0].app, adminToken, { stock: 300, stockBuckets: 8, perUserLimit: 1 });
    const users = Array.from({ length: 2000 }, (_, i) => `topo-${saleId}-${i}`);
    const started = Date.now();
    // Every user sends twice, once through each gateway, at the same time.
    const attempts = await Promise.all(
      users.flatMap((u) =>
        [0, 1].map(async (g) => {
          const token = await signUserToken(main.config.JWT_SECRET, u);
          const res = await gateways[(g + users.indexOf(u)) % 2].app.request(`/api/sales/${saleId}/orders`, {
            method: "POST",
            headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
            body: "{}",
          });
          return { user: u, status: res.status, body: (await res.json()) as { orderId?: string } };
        }),
      ),
    );
    const answeredMs = Date.now() - started;
    const accepted = attempts.filter((a) => a.status === 202);
    // No oversell, no undersell: demand (2,000 users) exceeds stock, so exactly the stock sells.
    expect(accepted).toHaveLength(300);
    // Per-user limit across gateways, APIs and buckets: no user holds two.
    expect(new Set(accepted.map((a) => a.user)).size).toBe(300);
    expect(attempts.filter((a) => ![202, 409, 410].includes(a.status))).toEqual([]);

    // No lost, no duplicate order: 300 rows, exactly the 300 accepted ids, each written once by one of three writers.
    const ids = new Set(accepted.map((a) => a.body.orderId));
    await eventually(
      "300 rows",
      async () => {
        const rows = await main.database.db.select({ id: orders.id }).from(orders).where(eq(orders.saleId, saleId));
        return rows.length === 300;
      },
      60_000,
    );
    const persistedMs = Date.now() - started;
    const rows = await main.database.db.select({ id: orders.id, userId: orders.userId }).from(orders).where(eq(orders.saleId, saleId));
    expect(new Set(rows.map((r) => r.id))).toEqual(ids);
    expect(new Set(rows.map((r) => r.userId)).size).toBe(300);

    // The sold-out broadcast reached both gateways: they answer 410 themselves.
    await eventually("both gateways hold the sold-out flag", () => gateways.every((g) => g.soldOut.isSoldOut(saleId)), 10_000);

    // Conservation at rest, from either lifecycle worker's reconciler and through the admin route.
    for (const l of lifecycles) expect((await l.reconciler.reconcile(saleId))?.state).toBe("consistent");
    const report = (await (
      await gateways[1].app.request(`/admin/sales/${saleId}/reconcile`, {
        method: "POST",
        headers: { authorization: `Bearer ${adminToken}` },
      })
    ).json()) as ReconcileReport;
    expect(report).toMatchObject({ state: "consistent", redis: { remaining: 0, liveSlots: 300, pendingHandoff: 0 } });
    console.log(
      `[figure] topology crowd: 4,000 requests of 2,000 users vs stock 300 (8 buckets): answered in ${answeredMs} ms, all rows after ${persistedMs} ms`,
    );
  });
});
