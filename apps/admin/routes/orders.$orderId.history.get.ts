import { eq } from "drizzle-orm";
import type { Hono } from "hono";
import { orders, payments } from "../../core/db/schema/index.js";
import { AppError } from "../../core/errors.js";
import type { AppEnv } from "../../core/http.js";
import { json } from "../../core/respond.js";
import type { AdminContext } from "../context.js";

type Source = "redis" | "kafka" | "mysql" | "payments" | "dlq";
interface HistoryEvent {
  at: string | null;
  source: Source;
  what: string;
  detail?: Record<string, unknown>;
}

const iso = (d: Date | number | null | undefined) => (d === null || d === undefined ? null : new Date(d).toISOString());
/** The DLQ is read by a consumer that may still be joining its group: the history does not wait for it long. */
const DLQ_WAIT_MS = 5000;

/**
 * GET /admin/orders/:orderId/history: everything the platform knows of an order, oldest first:
 * the reservation in Redis (and whether its handoff record still waits for Kafka), the row the
 * writer stored from Kafka, payment, close and stock return in MySQL, payments, dead letters.
 * For the person answering "where is my order?" without reading logs.
 */
export function register(app: Hono<AppEnv>, ctx: AdminContext) {
  app.get("/admin/orders/:orderId/history", async (c) => {
    const orderId = c.req.param("orderId");
    const { db } = ctx.services.database;
    const [[row], paid, queued] = await Promise.all([
      db.select().from(orders).where(eq(orders.id, orderId)).limit(1),
      db.select().from(payments).where(eq(payments.orderId, orderId)),
      ctx.store.queuedOrder(orderId),
    ]);
    const saleId = row?.saleId ?? queued?.saleId ?? null;
    const userId = row?.userId ?? queued?.userId ?? null;
    const letters = await Promise.race([
      ctx.dlq.ofOrder(orderId),
      new Promise<null>((r) => setTimeout(() => r(null), DLQ_WAIT_MS).unref()),
    ]).catch(() => null);
    if (!row && !queued && !letters?.length) throw new AppError("order_not_found", `no order ${orderId} in Redis, MySQL or the DLQ`);

    const events: HistoryEvent[] = [];
    const acceptedAt = row?.createdAt ?? (queued ? new Date(queued.acceptedAt) : null);
    if (acceptedAt) {
      events.push({
        at: iso(acceptedAt),
        source: "redis",
        what: "accepted (202): a unit reserved in Redis",
        detail: { saleId, userId, payBy: iso(row?.payBy ?? queued?.payBy) },
      });
    }
    if (saleId) {
      const { waiting, released } = await ctx.store.orderInRedis(saleId, userId ?? "", orderId);
      if (waiting)
        events.push({
          at: null,
          source: "redis",
          what: "waiting in Redis for Kafka (handoff record not acknowledged yet; the relay resends it)",
        });
      else if (acceptedAt) events.push({ at: null, source: "kafka", what: "handed to Kafka (seckill.orders acknowledged it)" });
      if (released) events.push({ at: iso(row?.releasedAt), source: "redis", what: "its unit went back on sale (released set)" });
    }
    for (const l of letters ?? []) {
      events.push({
        at: l.at,
        source: "dlq",
        what: `dead-lettered: ${l.reason}`,
        detail: { deadLetter: l.id, detail: l.detail, redrivenAt: l.redrivenAt },
      });
    }
    if (row) {
      events.push({
        at: iso(row.persistedAt),
        source: "mysql",
        what: "stored by the order writer (pending_payment)",
        detail: { amountCents: row.amountCents, slot: row.slot },
      });
      if (row.paidAt) events.push({ at: iso(row.paidAt), source: "mysql", what: "paid" });
      if (row.closedAt)
        events.push({
          at: iso(row.closedAt),
          source: "mysql",
          what: row.status === "refund_required" ? "closed, then paid late: refund required" : "closed unpaid at its pay-by time",
        });
      if (row.closedAt && !row.releasedAt)
        events.push({ at: null, source: "mysql", what: "stock return still owed (retried every expiry pass)" });
    } else if (queued) {
      events.push({ at: null, source: "mysql", what: "not in MySQL yet (queued: in Kafka or waiting for the writer)" });
    }
    for (const p of paid) {
      events.push({
        at: iso(p.receivedAt),
        source: "payments",
        what: `payment ${p.status}: ${p.outcome}`,
        detail: { providerTxnId: p.providerTxnId, eventId: p.eventId, amountCents: p.amountCents },
      });
    }
    events.sort((a, b) => (a.at === null || b.at === null ? 0 : a.at.localeCompare(b.at)));
    return json(c, { orderId, saleId, userId, status: row?.status ?? (queued ? "queued" : "unknown"), events });
  });
}
