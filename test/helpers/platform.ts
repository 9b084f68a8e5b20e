import { count, eq } from "drizzle-orm";
import type { Hono } from "hono";
import { createAdminRoutes } from "../../apps/admin/app.js";
import { type Api, createApi } from "../../apps/api/app.js";
import type { HandoffOptions } from "../../apps/api/handoff.js";
import { orders, payments } from "../../apps/core/db/schema/index.js";
import type { AppEnv } from "../../apps/core/http.js";
import { signUserToken } from "../../apps/core/jwt.js";
import { listen } from "../../apps/core/serve.js";
import type { Services } from "../../apps/core/services.js";
import { createGateway, type Gateway } from "../../apps/gateway/app.js";
import type { OutboxRelayOptions } from "../../apps/lifecycle/outbox-relay.js";
import { createLifecycle, type Lifecycle } from "../../apps/lifecycle/worker.js";
import type { LoyaltyConsumer } from "../../apps/loyalty/consumer.js";
import { startLoyalty } from "../../apps/loyalty/start.js";
import { createOrderWriter, type OrderWriter, type OrderWriterOptions } from "../../apps/order-writer/writer.js";
import type { KafkaMock } from "../../infra/kafka-mock/launch.js";
import { ownDatabase, testServices } from "./env.js";
import { createSaleVia, type SaleSpec } from "./sales.js";
import { eventually } from "./wait.js";

type PaymentRow = typeof payments.$inferSelect;

export interface TestPlatform {
  services: Services;
  api: Api;
  gateway: Gateway;
  admin: Hono<AppEnv>;
  writer?: OrderWriter;
  lifecycle?: Lifecycle;
  loyalty?: LoyaltyConsumer;
  /** A signed user token. */
  token(userId: string): Promise<string>;
  /** Creates and preloads a sale open now (or as given); returns its id. */
  createSale(opts?: SaleSpec): Promise<string>;
  buy(saleId: string, token: string, init?: { body?: string; headers?: Record<string, string> }): Promise<Response>;
  rows(saleId: string): Promise<number>;
  stats(saleId: string): Promise<Record<string, number>>;
  /** The current value of an unlabelled metric of this platform's registry (0 before its first sample). */
  metric(name: string): Promise<number>;
  /** The payments rows recorded for an order (none until the payments consumer settles its payment). */
  payments(orderId: string): Promise<PaymentRow[]>;
  /** Waits until the order's payment is recorded (applied, or unknown_order...) and returns it. */
  payment(orderId: string, timeoutMs?: number): Promise<PaymentRow>;
  /** Starts a new order writer (the caller stopped the old one), as `p.writer`; default 50,000 rows/s. */
  startWriter(opts?: OrderWriterOptions): Promise<OrderWriter>;
  /** The gateway on a real loopback listener (once; closed by stop()): its base URL. */
  listen(): Promise<string>;
  stop(): Promise<void>;
}

/**
 * The platform assembled in-process against the real test stack, with this test's own Redis
 * prefix, Kafka topics and consumer group.
 */
export async function startTestPlatform(
  opts: {
    env?: Record<string, string>;
    writer?: boolean | OrderWriterOptions;
    handoff?: HandoffOptions;
    soldOutRefreshMs?: number;
    /** The API's waiting-room admission tick (default ADMISSION_TICK_MS). */
    admitTickMs?: number;
    /** A private Kafka mock (for fault injection); default: the shared one. */
    kafka?: KafkaMock;
    /** Run the lifecycle worker (payments, expiry, reconcile, outbox relay); its timers are off unless given (the relay runs unless `relay: false`). */
    lifecycle?:
      | boolean
      | { expiryIntervalMs?: number; reconcileIntervalMs?: number; reopenIntervalMs?: number; relay?: OutboxRelayOptions | false };
    /** Run the loyalty ledger (reference consumer of the order events). */
    loyalty?: boolean;
    /** A database of its own pre-created with this default collation (e.g. utf8mb4_general_ci), as a DBA would. */
    databaseCollation?: string;
    /** This database (e.g. one two platforms share) instead of one of its own; not dropped at stop. */
    databaseUrl?: string;
  } = {},
): Promise<TestPlatform> {
  // Table-scanning workers (and the relay, which reads the whole outbox) get a database of their own (see ownDatabase).
  const db =
    !opts.databaseUrl && (opts.lifecycle || opts.loyalty || opts.databaseCollation)
      ? await ownDatabase({ collation: opts.databaseCollation })
      : undefined;
  const databaseUrl = opts.databaseUrl ?? db?.url;
  const services = await testServices({ ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}), ...opts.env }, opts.kafka);
  const api = createApi({ services, handoff: { relayIntervalMs: 200, ...opts.handoff }, admitTickMs: opts.admitTickMs });
  const admin = createAdminRoutes({ services });
  const gateway = createGateway({
    services,
    apiFetch: api.app.fetch,
    apiPurchase: api.purchase,
    admin,
    soldOutRefreshMs: opts.soldOutRefreshMs,
  });
  const writer = opts.writer ? createOrderWriter(services, typeof opts.writer === "object" ? opts.writer : {}) : undefined;
  const lc = typeof opts.lifecycle === "object" ? opts.lifecycle : {};
  const lifecycle = opts.lifecycle
    ? createLifecycle(services, {
        expiryIntervalMs: lc.expiryIntervalMs ?? 3_600_000,
        reconcileIntervalMs: lc.reconcileIntervalMs ?? 0,
        relay: lc.relay,
        reopenIntervalMs: lc.reopenIntervalMs ?? 0,
      })
    : undefined;
  await Promise.all([api.start(), gateway.start(), writer?.start(), lifecycle?.start()]);
  const loyalty = opts.loyalty ? await startLoyalty(services) : undefined;
  await Promise.all([writer?.ready(), lifecycle?.payments.ready(), loyalty?.ready()]);
  const adminHeaders = { authorization: `Bearer ${services.config.ADMIN_TOKEN}`, "content-type": "application/json" };

  let http: Awaited<ReturnType<typeof listen>> | undefined;
  return {
    services,
    api,
    gateway,
    admin,
    writer,
    lifecycle,
    loyalty,
    token: (userId) => signUserToken(services.config.JWT_SECRET, userId),
    createSale: (s = {}) => createSaleVia(gateway.app, services.config.ADMIN_TOKEN, s),
    buy(saleId, token, init = {}) {
      return Promise.resolve(
        gateway.app.request(`/api/sales/${saleId}/orders`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...init.headers },
          body: init.body ?? "{}",
        }),
      );
    },
    async rows(saleId) {
      const [r] = await services.database.db.select({ n: count() }).from(orders).where(eq(orders.saleId, saleId));
      return Number(r.n);
    },
    async stats(saleId) {
      const res = await gateway.app.request(`/admin/sales/${saleId}/stats`, { headers: adminHeaders });
      return (await res.json()) as Record<string, number>;
    },
    payments: (orderId) => services.database.db.select().from(payments).where(eq(payments.orderId, orderId)),
    async payment(orderId, timeoutMs = 30_000) {
      const [row] = await eventually(
        `the payment of order ${orderId} recorded`,
        async () => {
          const rows = await services.database.db.select().from(payments).where(eq(payments.orderId, orderId));
          return rows.length ? rows : null;
        },
        timeoutMs,
        100,
      );
      return row;
    },
    async startWriter(opts = { maxRowsPerSec: 50_000 }) {
      const w = createOrderWriter(services, opts);
      (this as TestPlatform).writer = w;
      await w.start();
      return w;
    },
    async metric(name) {
      const m = new RegExp(`^${name} (\\d+)`, "m").exec(await services.registry.metrics());
      return m ? Number(m[1]) : 0;
    },
    async listen() {
      http ??= await listen(gateway.app, "127.0.0.1", 0);
      return `http://127.0.0.1:${http.port}`;
    },
    async stop() {
      await http?.close();
      await gateway.stop();
      await api.stop();
      await (this as TestPlatform).writer?.stop(); // the current one: a test may have replaced it
      await lifecycle?.stop();
      await loyalty?.stop();
      await services.close();
      await db?.drop();
    },
  };
}
