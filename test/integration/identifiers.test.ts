import { eq, inArray } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { orders, paymentConflicts, payments } from "../../apps/core/db/schema/index.js";
import { listen } from "../../apps/core/serve.js";
import { applyPayment } from "../../apps/lifecycle/payments.js";
import { simulatePayment } from "../../apps/payment-simulator/simulate.js";
import { randomId } from "../helpers/env.js";
import { startTestPlatform, type TestPlatform } from "../helpers/platform.js";
import { eventually } from "../helpers/wait.js";

/**
 * Identifiers are byte-exact everywhere: a variant of an id by case, a trailing space or another
 * Unicode normalization is another id, whatever the database's default collation. Each case runs
 * on a database pre-created with `utf8mb4_general_ci` (case-insensitive, as a DBA often creates
 * it) and on one with `utf8mb4_bin` (what the platform creates; PAD SPACE: trailing spaces ignored).
 */
describe.each(["utf8mb4_general_ci", "utf8mb4_bin"])("identifiers are byte-exact on a database created with %s", (collation) => {
  let p: TestPlatform;
  let baseUrl: string;
  let closeHttp: () => Promise<void>;
  beforeAll(async () => {
    p = await startTestPlatform({ writer: { maxRowsPerSec: 50_000 }, lifecycle: true, databaseCollation: collation });
    const http = await listen(p.gateway.app, "127.0.0.1", 0);
    baseUrl = `http://127.0.0.1:${http.port}`;
    closeHttp = http.close;
  });
  afterAll(async () => {
    await closeHttp?.();
    await p?.stop();
  });

  const admin = (method: string, path: string, body?: unknown) =>
    p.gateway.app.request(path, {
      method,
      headers: { authorization: `Bearer ${p.services.config.ADMIN_TOKEN}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const code = async (res: Response) => [res.status, ((await res.json()) as { error?: { code: string } }).error?.code];
  const db = () => p.services.database.db;

  /** Every sale id that has a key under this platform's prefix. */
  async function salesInRedis(): Promise<Set<string>> {
    const keys = await p.services.redis.keys(`${p.services.config.REDIS_KEY_PREFIX}{sale:*`);
    return new Set(keys.map((k) => /\{sale:(.*)\}/s.exec(k)?.[1] ?? k));
  }

  /** n distinct buyers buy one unit each; returns their order rows once persisted. */
  async function ordersOf(saleId: string, users: string[]) {
    for (const u of users) expect((await p.buy(saleId, await p.token(u))).status).toBe(202);
    await eventually(`${users.length} rows`, async () => (await p.rows(saleId)) === users.length, 30_000);
    return db().select().from(orders).where(eq(orders.saleId, saleId));
  }

  it("a sale id differing by case or a trailing space is no sale: 404 on every route, and never a second stock pool", async () => {
    const id = `Promo-${randomId()}`;
    await p.createSale({ id, stock: 3 });
    // As URL path segments: `%20` is the trailing space.
    for (const path of [id.toUpperCase(), id.toLowerCase(), `${id}%20`]) {
      expect(await code(await p.gateway.app.request(`/api/sales/${path}`))).toEqual([404, "sale_not_found"]);
      expect(await code(await admin("POST", `/admin/sales/${path}/preload?force=true`))).toEqual([404, "sale_not_found"]);
      expect(await code(await admin("POST", `/admin/sales/${path}/preload`))).toEqual([404, "sale_not_found"]);
      expect(await code(await admin("GET", `/admin/sales/${path}/stats`))).toEqual([404, "sale_not_found"]);
      expect(await code(await admin("POST", `/admin/sales/${path}/reconcile`))).toEqual([404, "sale_not_found"]);
      expect(await code(await admin("POST", `/admin/sales/${path}/move-stock-home`))).toEqual([404, "sale_not_found"]);
      expect(await code(await p.buy(path, await p.token(`u-${randomId()}`)))).toEqual([404, "sale_not_found"]);
    }
    expect(await salesInRedis()).not.toContain(id.toUpperCase());
    expect(await salesInRedis()).not.toContain(`${id} `);
    // One pool of 3: three 202s, then sold out.
    const answers = [];
    for (let i = 0; i < 6; i++) answers.push((await p.buy(id, await p.token(`promo-buyer-${i}`))).status);
    expect(answers).toEqual([202, 202, 202, 410, 410, 410]);
    // And a sale whose id differs only by case is a sale of its own.
    const lower = id.toLowerCase();
    const created = await admin("POST", "/admin/sales", {
      id: lower,
      title: "lower",
      priceCents: 100,
      stock: 1,
      startsAt: new Date(Date.now() - 1000).toISOString(),
      endsAt: new Date(Date.now() + 3600_000).toISOString(),
    });
    expect(created.status).toBe(201);
    expect(((await (await p.gateway.app.request(`/api/sales/${id}`)).json()) as { title: string }).title).toBe(`test sale ${id}`);
  });

  it("users differing only by case are two buyers: both 202s become rows, each sees only its own order", async () => {
    const saleId = await p.createSale({ stock: 5 });
    const ann = `Ann-7-${randomId()}`;
    const users = [ann, ann.toLowerCase()];
    const rows = await ordersOf(saleId, users);
    expect(rows.map((r) => r.userId).sort()).toEqual([...users].sort());
    expect(rows.every((r) => r.status === "pending_payment")).toBe(true);
    for (const r of rows) {
      const mine = await p.gateway.app.request(`/api/orders/${r.id}`, { headers: { authorization: `Bearer ${await p.token(r.userId)}` } });
      expect(mine.status).toBe(200);
      const other = users.find((u) => u !== r.userId)!;
      const theirs = await p.gateway.app.request(`/api/orders/${r.id}`, { headers: { authorization: `Bearer ${await p.token(other)}` } });
      expect(theirs.status).toBe(404);
    }
    // A user id with a trailing space is not that user (and not a valid user id at all).
    const spaced = await p.buy(saleId, await p.token(`${ann} `));
    expect(spaced.status).toBe(401);
  });

  it("users as identity providers name them (auth0|..., google-oauth2|..., José in NFC and in NFD) are buyers of their own: each 202 becomes its row", async () => {
    const saleId = await p.createSale({ stock: 5 });
    const tag = randomId();
    const nfc = `Jos\u00e9-${tag}`;
    const users = [`auth0|5f7c8ec7c33c6c004bbafe82-${tag}`, `google-oauth2|104-${tag}`, nfc, nfc.normalize("NFD")];
    expect(users[2]).not.toBe(users[3]);
    const rows = await ordersOf(saleId, users);
    expect(rows.map((r) => r.userId).sort()).toEqual([...users].sort());
    for (const u of users) {
      const mine = rows.find((r) => r.userId === u)!;
      const read = await p.gateway.app.request(`/api/orders/${mine.id}`, { headers: { authorization: `Bearer ${await p.token(u)}` } });
      expect(read.status).toBe(200);
    }
    // Still refused: whitespace or control characters, and more than the column's 64 bytes.
    for (const bad of [`Jos\u00e9 ${tag}`, `a\tb-${tag}`, "\u00e9".repeat(33)])
      expect((await p.buy(saleId, await p.token(bad))).status).toBe(401);
  });

  it("an order id differing by case or a trailing space is 404, for the buyer and for the admin", async () => {
    const saleId = await p.createSale({ stock: 1 });
    const user = `buyer-${randomId()}`;
    const [row] = await ordersOf(saleId, [user]);
    const auth = { authorization: `Bearer ${await p.token(user)}` };
    expect((await p.gateway.app.request(`/api/orders/${row.id}`, { headers: auth })).status).toBe(200);
    expect((await admin("GET", `/admin/orders/${row.id}`)).status).toBe(200);
    for (const variant of [row.id.toLowerCase(), `${row.id}%20`]) {
      expect(await code(await p.gateway.app.request(`/api/orders/${variant}`, { headers: auth }))).toEqual([404, "order_not_found"]);
      expect(await code(await admin("GET", `/admin/orders/${variant}`))).toEqual([404, "order_not_found"]);
    }
  });

  it("an Idempotency-Key differing by case is another key: another order, while the same key replays the first", async () => {
    const saleId = await p.createSale({ stock: 5, perUserLimit: 2 });
    const token = await p.token(`idem-${randomId()}`);
    const buy = async (key: string) =>
      ((await (await p.buy(saleId, token, { headers: { "idempotency-key": key } })).json()) as { orderId: string }).orderId;
    const first = await buy("Key-1");
    const other = await buy("key-1");
    expect(other).not.toBe(first);
    expect(await buy("Key-1")).toBe(first);
  });

  it("provider transaction and event ids differing by case, trailing space or normalization are different payments: each is recorded", async () => {
    const saleId = await p.createSale({ stock: 10, priceCents: 500 });
    const rows = await ordersOf(
      saleId,
      Array.from({ length: 8 }, (_, i) => `payer-${i}-${randomId()}`),
    );
    const r = randomId();
    // Pairs that a case-insensitive, PAD SPACE or normalizing comparison would take for one.
    const txns = [`ch_aB1${r}`, `ch_Ab1${r}`, `ch_t${r}`, `ch_t${r} `, `ch_\u00e9${r}`, `ch_e\u0301${r}`, `ch_z${r}`, `ch_y${r}`];
    const events = [`evt_a${r}`, `evt_b${r}`, `evt_c${r}`, `evt_d${r}`, `evt_e\u0301${r}`, `evt_\u00e9${r}`, `evt_xY${r}`, `evt_Xy${r}`];
    // Half through the signed callback (HTTP -> Kafka -> consumer), half straight into the consumer's unit of work.
    for (let i = 0; i < rows.length; i++) {
      const m = { eventId: events[i], orderId: rows[i].id, providerTxnId: txns[i], amountCents: 500, status: "succeeded" as const };
      if (i % 2 === 0) {
        const [d] = await simulatePayment({ baseUrl, secret: p.services.config.PAYMENT_WEBHOOK_SECRET, ...m });
        expect(d.status).toBe(200);
      } else {
        const out = await applyPayment(p.services, p.api.ctx.store, { v: 1, receivedAt: Date.now(), ...m });
        expect(out).toEqual({ kind: "applied", outcome: "applied" });
      }
    }
    const recorded = await eventually(
      "every payment recorded",
      async () => {
        const got = await db().select().from(payments).where(inArray(payments.providerTxnId, txns));
        return got.length === txns.length ? got : null;
      },
      30_000,
    );
    expect(recorded.map((x) => x.providerTxnId).sort()).toEqual([...txns].sort());
    expect(recorded.map((x) => x.eventId).sort()).toEqual([...events].sort());
    expect(recorded.every((x) => x.outcome === "applied")).toBe(true);
    for (const x of recorded) expect(x.orderId).toBe(rows[txns.indexOf(x.providerTxnId)].id);
    const paid = await db().select().from(orders).where(eq(orders.saleId, saleId));
    expect(paid.map((o) => o.status)).toEqual(paid.map(() => "paid"));
  });

  it("a transaction reported failed for order A and then succeeded for order B stays A's: B's use is a conflict, recorded, counted, never applied", async () => {
    const saleId = await p.createSale({ stock: 2, priceCents: 500 });
    const [a, b] = await ordersOf(saleId, [`conflict-a-${randomId()}`, `conflict-b-${randomId()}`]);
    const txn = `ch_${randomId()}`;
    const secret = p.services.config.PAYMENT_WEBHOOK_SECRET;
    await simulatePayment({
      baseUrl,
      secret,
      orderId: a.id,
      amountCents: 500,
      status: "failed",
      providerTxnId: txn,
      eventId: `evt_1${txn}`,
    });
    await eventually(
      "A's failed payment",
      async () => (await db().select().from(payments).where(eq(payments.providerTxnId, txn))).length === 1,
    );
    await simulatePayment({
      baseUrl,
      secret,
      orderId: b.id,
      amountCents: 500,
      status: "succeeded",
      providerTxnId: txn,
      eventId: `evt_2${txn}`,
    });
    const [conflict] = await eventually("the conflict recorded", () =>
      db()
        .select()
        .from(paymentConflicts)
        .where(eq(paymentConflicts.providerTxnId, txn))
        .then((x) => (x.length ? x : null)),
    );
    expect(conflict).toMatchObject({ orderId: b.id, firstOrderId: a.id, status: "succeeded", eventId: `evt_2${txn}` });
    const [row] = await db().select().from(payments).where(eq(payments.providerTxnId, txn));
    expect(row).toMatchObject({ orderId: a.id, status: "failed", outcome: "failed" });
    const [orderB] = await db().select().from(orders).where(eq(orders.id, b.id));
    expect(orderB.status).toBe("pending_payment");
    const metrics = await p.services.registry.metrics();
    expect(metrics).toMatch(/seckill_payments_total\{outcome="txn_conflict"\} 1\b/);
    // A repeat of the conflicting event is not a second conflict.
    await simulatePayment({
      baseUrl,
      secret,
      orderId: b.id,
      amountCents: 500,
      status: "succeeded",
      providerTxnId: txn,
      eventId: `evt_2${txn}`,
    });
    const again = await applyPayment(p.services, p.api.ctx.store, {
      v: 1,
      receivedAt: Date.now(),
      orderId: b.id,
      amountCents: 500,
      status: "succeeded",
      providerTxnId: txn,
      eventId: `evt_2${txn}`,
    });
    expect(again).toEqual({ kind: "already_processed" });
    expect(await db().select().from(paymentConflicts).where(eq(paymentConflicts.providerTxnId, txn))).toHaveLength(1);
  });

  it("a transaction id reported for two orders at once ends as one payment and one recorded conflict, never a silent drop", async () => {
    const saleId = await p.createSale({ stock: 2, priceCents: 500 });
    const [a, b] = await ordersOf(saleId, [`race-a-${randomId()}`, `race-b-${randomId()}`]);
    for (let round = 0; round < 5; round++) {
      const txn = `ch_race_${randomId()}`;
      const msg = (orderId: string, n: number) => ({
        v: 1 as const,
        receivedAt: Date.now(),
        orderId,
        amountCents: 500,
        status: "failed" as const,
        providerTxnId: txn,
        eventId: `evt_${n}_${txn}`,
      });
      const outcomes = await Promise.all([
        applyPayment(p.services, p.api.ctx.store, msg(a.id, 1)),
        applyPayment(p.services, p.api.ctx.store, msg(b.id, 2)),
      ]);
      expect(outcomes.map((o) => (o.kind === "applied" ? o.outcome : o.kind)).sort()).toEqual(["failed", "txn_conflict"]);
      const [row] = await db().select().from(payments).where(eq(payments.providerTxnId, txn));
      const [conflict] = await db().select().from(paymentConflicts).where(eq(paymentConflicts.providerTxnId, txn));
      expect(conflict.firstOrderId).toBe(row.orderId);
      expect(new Set([row.orderId, conflict.orderId])).toEqual(new Set([a.id, b.id]));
    }
  });
});
