import type { PoolConnection } from "mysql2/promise";
import { z } from "zod";
import { bulkInsert } from "../core/db/bulk-insert.js";
import type { Db } from "../core/db/client.js";
import { ER_DUP_ENTRY, sqlErrno } from "../core/db/errors.js";
import { type NewOrderEventRow, ORDER_EVENT_TYPES, type OrderEventRow, type OrderEventType, orderEvents } from "../core/db/schema/index.js";
import { newOrderId, ORDER_ID_PATTERN } from "../core/ids.js";

export { ORDER_EVENT_TYPES, type OrderEventType };

/**
 * An event's version is the step of the order's lifecycle it records, so versions of one order
 * are 1, 2, 3 without gaps along any path: created (1) -> paid | closed (2) -> refund_required
 * (3, only after closed). A consumer that holds version n of an order and receives n + 1 knows
 * nothing came in between; it never needs an event older than what it holds. Derived from the
 * transition (not counted from earlier outbox rows) so it stays right after those rows are pruned.
 * A new transition takes the next step along its path; a version is never reused.
 */
export const EVENT_VERSION: Record<OrderEventType, number> = {
  "order.created": 1,
  "order.paid": 2,
  "order.closed": 2,
  "order.refund_required": 3,
};

/** The order state each event type leaves the order in (a consumer's projection of it). */
export const STATUS_AFTER: Record<OrderEventType, "pending_payment" | "paid" | "closed" | "refund_required"> = {
  "order.created": "pending_payment",
  "order.paid": "paid",
  "order.closed": "closed",
  "order.refund_required": "refund_required",
};

export interface OrderFacts {
  id: string;
  saleId: string;
  userId: string;
  amountCents: number;
}

/** The outbox row of one state change of `order`, which happened at `occurredAt`. */
export function orderEvent(type: OrderEventType, order: OrderFacts, occurredAt: Date): NewOrderEventRow {
  return {
    eventId: newOrderId(),
    type,
    orderId: order.id,
    saleId: order.saleId,
    userId: order.userId,
    amountCents: order.amountCents,
    version: EVENT_VERSION[type],
    occurredAt,
  };
}

/**
 * The outbox already holds an event for this step of the order. The state change it came with
 * was conditional on the previous state, so this means two writers disagree about the order:
 * a bug to look at, never "already done". Deliberately carries no SQL errno, so callers that
 * treat a duplicate key (1062) as an idempotent repeat do not swallow it.
 */
export class OrderEventConflict extends Error {
  /** Retrying gives the same answer (see isTransient). */
  readonly transient = false;
  constructor(detail: string) {
    super(`order event already recorded for this step of the order (${detail}); the state change is rolled back: investigate the order`);
    this.name = "OrderEventConflict";
  }
}

/** A duplicate (order, version) as OrderEventConflict; any other error as it is. */
function eventInsertError(err: unknown, events: NewOrderEventRow[]): unknown {
  if (sqlErrno(err) !== ER_DUP_ENTRY) return err;
  const what = events.length === 1 ? `order ${events[0].orderId} version ${events[0].version}` : `${events.length} events`;
  return new OrderEventConflict(`${what}: ${(err as Error).message}`);
}

/**
 * Inserts the events with the caller's transaction (`tx`), so they commit or roll back with the
 * state change they describe. Throws OrderEventConflict on a duplicate (order, version), any
 * other MySQL error as is; either one must roll the caller's transaction back.
 */
export async function recordOrderEvents(tx: Pick<Db, "insert">, events: NewOrderEventRow[]): Promise<void> {
  if (events.length === 0) return;
  try {
    await tx.insert(orderEvents).values(events);
  } catch (err) {
    throw eventInsertError(err, events);
  }
}

// Every field orderEvent() sets; seq, queued_at and sent_at take their column defaults.
const orderEventsInsert = bulkInsert(orderEvents, [
  "eventId",
  "type",
  "orderId",
  "saleId",
  "userId",
  "amountCents",
  "version",
  "occurredAt",
]);

/**
 * recordOrderEvents on a mysql2 connection in a transaction the caller holds, as one multi-row
 * INSERT without the query builder (the order writer's hot path: bulkInsert). Same rows, same
 * errors.
 */
export async function recordOrderEventsOn(conn: Pick<PoolConnection, "query">, events: NewOrderEventRow[]): Promise<void> {
  try {
    await orderEventsInsert.run(conn, events);
  } catch (err) {
    throw eventInsertError(err, events);
  }
}

/**
 * The message on `seckill.order-events` (value, JSON; key = orderId). Documented for other teams
 * as a JSON Schema in docs/events/order-event.schema.json; a test keeps the two in step.
 * Consumers must ignore fields they do not know: new optional fields may be added without a new
 * type; a field is never removed or changed in meaning without a new topic.
 */
export const orderEventSchema = z.object({
  eventId: z.string().min(1).max(64),
  type: z.enum(ORDER_EVENT_TYPES),
  orderId: z.string().regex(ORDER_ID_PATTERN),
  saleId: z.string().min(1).max(64),
  userId: z.string().min(1).max(64),
  amountCents: z.number().int().min(0),
  version: z.number().int().min(1),
  /** ISO-8601 UTC: when the state change happened (for order.created, when the purchase was accepted). */
  occurredAt: z.string().datetime(),
});
export type OrderEvent = z.infer<typeof orderEventSchema>;

/** The Kafka message of an outbox row. */
export function toOrderEventMessage(row: OrderEventRow): { key: string; value: string } {
  const event: OrderEvent = {
    eventId: row.eventId,
    type: row.type,
    orderId: row.orderId,
    saleId: row.saleId,
    userId: row.userId,
    amountCents: row.amountCents,
    version: row.version,
    occurredAt: row.occurredAt.toISOString(),
  };
  return { key: row.orderId, value: JSON.stringify(event) };
}
