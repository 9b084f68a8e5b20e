import { z } from "zod";
import { bodySchema as moveStockHomeBody } from "../admin/routes/sales.$id.move-stock-home.post.js";
import { createSaleSchema } from "../admin/routes/sales.post.js";
import { saleFields } from "../admin/sale-fields.js";
import type { ErrorCode } from "../core/errors.js";
import { htmlPage, type Operation } from "./registry.js";
import { adminOrder, adminSale, deadLetter, liveSnapshot, orderHistory, reconcileReport, saleListItem, saleStats } from "./schemas.js";

/**
 * PATCH /admin/sales/:id: any field of the sale but its id and admission mode. `stock` only
 * before the preload (after it, the units in Redis are the truth); the rest is refreshed in Redis
 * at once when the sale is loaded. Ending a sale early is `{"endsAt": <now>}`.
 */
export const patchSaleSchema = z
  .object(saleFields)
  .partial()
  .strict()
  .refine((b) => Object.keys(b).length > 0, { message: "nothing to change: give at least one field" })
  .meta({ id: "SalePatch" });

export const signInBody = z
  .object({ token: z.string().min(1).max(1024) })
  .strict()
  .meta({ id: "AdminSignIn" });

/** DELETE /admin/session's query: `all=true` ends every console session. */
export const signOutQuery = z
  .object({ all: z.enum(["true", "false"]).optional().meta({ description: "true: end every console session" }) })
  .strict();

const id = z.string().meta({ description: "the sale id" });
const orderId = z.string().meta({ description: "the order id" });
const session = z.object({ signedIn: z.boolean(), expiresAt: z.iso.datetime({ offset: true }).nullable() }).meta({ id: "AdminSession" });
/** 503 `unavailable`: a console session cookie cannot be checked while Redis does not answer (Bearer calls never ask). */
const ADMIN: ErrorCode[] = ["unauthorized", "forbidden", "unavailable"];

export const adminOperations: Operation[] = [
  htmlPage({
    path: "/admin/console",
    tag: "admin console",
    summary: "The admin console (a page; sign in with the admin token)",
    cacheControl: "no-cache",
  }),
  {
    method: "get",
    path: "/admin/session",
    tag: "admin console",
    summary: "Whether the browser holds a valid console session",
    description:
      "A session is valid while its cookie is genuine and unexpired, it was not signed out, and no sign-out everywhere came after it.",
    ok: { 200: { description: "the session", schema: session } },
    errors: ["unavailable"],
  },
  {
    method: "post",
    path: "/admin/session",
    tag: "admin console",
    summary: "Sign in to the console with the admin token",
    description:
      "Sets the `seckill_admin` cookie: signed, HttpOnly, SameSite=Strict, Path=/admin, expiring after 8 hours. Cookie-authenticated writes must come from the console's own origin (the Origin header is checked). " +
      "At most 10 failed sign-ins per client IP per 15 minutes: past that, 429 `rate_limited` with Retry-After, even for the right token, until the window ends. 503 `unavailable` while Redis does not answer.",
    body: signInBody,
    ok: { 200: { description: "signed in", schema: session, headers: { "Set-Cookie": "the session cookie" } } },
    errors: ["invalid_request", "unauthorized", "forbidden", "rate_limited", "unavailable"],
  },
  {
    method: "delete",
    path: "/admin/session",
    tag: "admin console",
    summary: "Sign out: this session, or with ?all=true every console session",
    description:
      "Revokes this browser's session on the server (a copy of the cookie is refused from then on) and clears the cookie. " +
      "`?all=true` ends every console session at once without rotating ADMIN_TOKEN; it needs `Authorization: Bearer <ADMIN_TOKEN>` (no Origin check then) or a valid session, else 401. " +
      "503 `unavailable` while Redis does not answer: nothing was revoked, retry.",
    query: signOutQuery,
    ok: { 200: { description: "signed out", schema: session } },
    errors: ["invalid_request", "unauthorized", "forbidden", "unavailable"],
  },
  {
    method: "get",
    path: "/admin/sales",
    tag: "admin",
    summary: "Every sale, newest first, with where its stock and orders are",
    security: "admin",
    query: z.object({ limit: z.string().optional().meta({ description: "1-500, default 100" }) }),
    ok: { 200: { description: "the sales", schema: z.object({ sales: z.array(saleListItem) }) } },
    errors: [...ADMIN, "invalid_request"],
  },
  {
    method: "post",
    path: "/admin/sales",
    tag: "admin",
    summary: "Create a sale (then preload it before it starts)",
    security: "admin",
    body: createSaleSchema.meta({ id: "SaleCreate" }),
    ok: { 201: { description: "the sale", schema: adminSale } },
    errors: [...ADMIN, "invalid_request", "conflict"],
  },
  {
    method: "patch",
    path: "/admin/sales/:id",
    tag: "admin",
    summary: "Change a sale (any field); end it early with endsAt = now",
    description:
      "`stock` can change only before the preload (409 after). Other changes reach Redis at once when the sale is loaded, and every gateway and API drops its in-memory copy of the sale when it hears the sale-changed broadcast (best effort: a copy that missed it follows within 6 s).",
    security: "admin",
    params: { id },
    body: patchSaleSchema,
    ok: { 200: { description: "the sale as changed", schema: adminSale } },
    errors: [...ADMIN, "invalid_request", "sale_not_found", "conflict"],
  },
  {
    method: "post",
    path: "/admin/sales/:id/preload",
    tag: "admin",
    summary: "Load the sale's stock into Redis; idempotent",
    description:
      "409 `sale_started` after the start without `force`. 409 `conflict`, even with `force`, when Redis lost a sale that may have sold: orders in MySQL, or (started and preloaded before) orders the writer has not persisted yet. Run reconcile instead: it waits for the writer and recomputes the stock.",
    security: "admin",
    params: { id },
    query: z.object({
      force: z.enum(["true"]).optional().meta({ description: "after the start: refresh settings (stock is never reset)" }),
    }),
    ok: { 200: { description: "loaded", schema: z.object({ id: z.string(), remaining: z.number().int() }) } },
    errors: [...ADMIN, "sale_not_found", "sale_started", "conflict"],
  },
  {
    method: "post",
    path: "/admin/sales/:id/move-stock-home",
    tag: "admin",
    summary: "Make this instance's Redis and key prefix the sale's stock home, after proving the old home holds no stock",
    description: "Then load it here with POST /admin/sales/:id/reconcile (or preload, for a sale with no orders). The body may be empty.",
    security: "admin",
    params: { id },
    body: moveStockHomeBody.meta({ id: "MoveStockHome" }),
    ok: {
      200: {
        description: "moved, or already home",
        schema: z.object({ id: z.string(), moved: z.boolean(), from: z.unknown(), to: z.unknown() }),
      },
    },
    errors: [...ADMIN, "invalid_request", "sale_not_found", "stock_home_unreachable", "stock_home_not_empty", "conflict"],
  },
  {
    method: "get",
    path: "/admin/sales/:id/stats",
    tag: "admin",
    summary: "Where the sale's stock and orders are, across Redis, Kafka and MySQL",
    security: "admin",
    params: { id },
    ok: { 200: { description: "the stats", schema: saleStats } },
    errors: [...ADMIN, "sale_not_found"],
  },
  {
    method: "get",
    path: "/admin/sales/:id/live",
    tag: "admin console",
    summary: "One sample of the live dashboard: stats, purchase answers by status, latency histogram, DLQ count",
    security: "admin",
    params: { id },
    ok: { 200: { description: "the sample", schema: liveSnapshot } },
    errors: [...ADMIN, "sale_not_found"],
  },
  {
    method: "post",
    path: "/admin/sales/:id/reconcile",
    tag: "admin",
    summary: "Compare Redis, Kafka and MySQL for the sale, repair what is safe, report",
    security: "admin",
    params: { id },
    ok: { 200: { description: "the report", schema: reconcileReport } },
    errors: [...ADMIN, "sale_not_found"],
  },
  {
    method: "post",
    path: "/admin/sales/:id/events/replay",
    tag: "admin",
    summary: "Publish the sale's order events again from the outbox (for a consumer that lost its data)",
    description:
      "Queues every event of the sale still in the outbox (ORDER_EVENTS_RETENTION_HOURS) for the relays, which publish them on seckill.order-events in order per order with their original event ids.",
    security: "admin",
    params: { id },
    ok: {
      202: {
        description: "queued for publishing",
        schema: z
          .object({
            saleId: z.string(),
            events: z.number().int().meta({ description: "events queued" }),
            orders: z.number().int().meta({ description: "orders they belong to" }),
          })
          .meta({ id: "EventReplay" }),
      },
    },
    errors: [...ADMIN, "sale_not_found"],
  },
  {
    method: "get",
    path: "/admin/orders/:orderId",
    tag: "admin",
    summary: "An order row with its payments (MySQL)",
    security: "admin",
    params: { orderId },
    ok: { 200: { description: "the order", schema: adminOrder } },
    errors: [...ADMIN, "order_not_found"],
  },
  {
    method: "get",
    path: "/admin/orders/:orderId/history",
    tag: "admin",
    summary: "Everything known of an order: Redis, the Kafka handoff, MySQL, payments, the DLQ",
    security: "admin",
    params: { orderId },
    ok: { 200: { description: "the history", schema: orderHistory } },
    errors: [...ADMIN, "order_not_found"],
  },
  {
    method: "get",
    path: "/admin/dlq",
    tag: "admin",
    summary: "Dead letters on seckill.orders.dlq, newest first, with their reason",
    security: "admin",
    query: z.object({ saleId: z.string().optional() }),
    ok: { 200: { description: "the dead letters", schema: z.object({ deadLetters: z.array(deadLetter), total: z.number().int() }) } },
    errors: [...ADMIN, "unavailable"],
  },
  {
    method: "post",
    path: "/admin/dlq/:id/redrive",
    tag: "admin",
    summary: "Republish a dead letter to seckill.orders (the writer takes it again; a duplicate is harmless)",
    security: "admin",
    params: { id: z.string().meta({ description: "<partition>:<offset>" }) },
    ok: { 200: { description: "republished", schema: deadLetter } },
    errors: [...ADMIN, "not_found", "unavailable"],
  },
];
