import { and, asc, inArray, isNotNull, isNull, lt, sql } from "drizzle-orm";
import type { Database } from "../core/db/client.js";
import { sqlErrno } from "../core/db/errors.js";
import { type OrderEventRow, orderEvents } from "../core/db/schema/index.js";
import type { Foreground } from "../core/foreground.js";
import type { ConnectedProducer } from "../core/kafka.js";
import type { Logger } from "../core/logger.js";
import type { PlatformMetrics } from "../core/metrics.js";
import { toOrderEventMessage } from "../domain/order-events.js";
import { outboxBacklog } from "../domain/outbox.js";

export interface OutboxRelayOptions {
  /** Pause of an idle relay between looks at the outbox (a full batch loops at once). Default 100 ms. */
  intervalMs?: number;
  /** Events per MySQL transaction and Kafka send. Default 500. */
  batchSize?: number;
  /** Sent events older than this are pruned. Default 168 h. */
  retentionHours?: number;
  /** How often sent events past the retention are pruned. Default 60 s. */
  pruneIntervalMs?: number;
  /** How often the unsent count and lag gauges are refreshed. Default 1 s. */
  backlogIntervalMs?: number;
  /**
   * Fault-injection seam for tests: runs after Kafka acknowledged a batch and before the batch is
   * marked sent (a throw there is a crash between send and mark: the batch is sent again).
   */
  afterSend?: (events: OrderEventRow[]) => Promise<void>;
}

export interface RelayPass {
  /** Events locked by this pass. */
  claimed: number;
  /** Events Kafka acknowledged and this pass marked sent. */
  sent: number;
  /** Events held back because an earlier event of their order is in another relay's hands. */
  held: number;
}

/**
 * The outbox relay: publishes unsent `order_events` rows to `seckill.order-events` (key = order
 * id, acks -1) and marks them sent only after Kafka acknowledged them. At least once: a crash
 * or a failure between the send and the commit of the mark sends the batch again, with the same
 * event ids, and consumers deduplicate.
 *
 * Several relays may run (one per lifecycle worker). Each pass is one READ COMMITTED transaction
 * that claims the oldest unsent rows with `FOR UPDATE SKIP LOCKED` (READ COMMITTED takes no gap
 * locks, so the order writer's inserts never wait behind a relay that waits for Kafka), sends
 * them, marks them and commits. A crashed relay's locks go with its connection, and its rows
 * come back to the next pass. Per-order order holds across relays: a claimed event whose order
 * has an earlier unsent event that another relay holds is not sent in this pass (it goes once
 * that one is acknowledged); events of one order in one batch go in one send, in version order,
 * to one partition. Sends are one at a time, so a kafkajs retry cannot reorder them.
 *
 * Kafka or MySQL away: the pass fails, nothing is marked, and the relay retries with backoff
 * (up to 5 s) for as long as it takes.
 */
export function createOutboxRelay(
  deps: {
    database: Database;
    producer: ConnectedProducer;
    topic: string;
    metrics: PlatformMetrics;
    logger: Logger;
    /** Purchases sharing this process, which each pass first waits for (core/foreground.ts). */
    foreground?: Foreground;
  },
  opts: OutboxRelayOptions = {},
) {
  const { db } = deps.database;
  const { metrics } = deps;
  const log = deps.logger.child({ component: "outbox-relay" });
  const intervalMs = opts.intervalMs ?? 100;
  const batchSize = opts.batchSize ?? 500;
  const retentionHours = opts.retentionHours ?? 168;
  const pruneIntervalMs = opts.pruneIntervalMs ?? 60_000;
  const backlogIntervalMs = opts.backlogIntervalMs ?? 1000;

  let stopped = true;
  let loop: Promise<void> | undefined;
  let wake: (() => void) | undefined;
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  /** One pass: claim, send, mark, commit. Throws when Kafka or MySQL fails (nothing is marked then). */
  async function relayOnce(): Promise<RelayPass> {
    const pass = await db.transaction(
      async (tx) => {
        const claimed = await tx
          .select()
          .from(orderEvents)
          .where(isNull(orderEvents.sentAt))
          .orderBy(asc(orderEvents.seq))
          .limit(batchSize)
          .for("update", { skipLocked: true });
        if (claimed.length === 0) return { claimed: 0, sent: 0, held: 0 };
        // An order's earlier unsent event that this pass did not claim is locked by another relay
        // (rows are claimed in seq order, and one order's events commit in version order).
        const firstSeq = new Map<string, number>();
        for (const r of claimed) if (!firstSeq.has(r.orderId)) firstSeq.set(r.orderId, r.seq);
        const mine = new Set(claimed.map((r) => r.seq));
        const unsent = await tx
          .select({ orderId: orderEvents.orderId, seq: orderEvents.seq })
          .from(orderEvents)
          .where(and(inArray(orderEvents.orderId, [...firstSeq.keys()]), isNull(orderEvents.sentAt)));
        const held = new Set(unsent.filter((u) => !mine.has(u.seq) && u.seq < firstSeq.get(u.orderId)!).map((u) => u.orderId));
        const send = held.size ? claimed.filter((r) => !held.has(r.orderId)) : claimed;
        if (send.length > 0) {
          await deps.producer.send({ topic: deps.topic, acks: -1, messages: send.map(toOrderEventMessage) });
          await opts.afterSend?.(send);
          await tx
            .update(orderEvents)
            .set({ sentAt: sql`NOW(3)` })
            .where(
              inArray(
                orderEvents.seq,
                send.map((r) => r.seq),
              ),
            );
        }
        return { claimed: claimed.length, sent: send.length, held: claimed.length - send.length };
      },
      { isolationLevel: "read committed" },
    );
    metrics.orderEventsPublished.inc(pass.sent);
    return pass;
  }

  /** Deletes sent events older than the retention, 5,000 at a time; returns how many. */
  async function prune(): Promise<number> {
    let total = 0;
    for (;;) {
      const [res] = await db
        .delete(orderEvents)
        .where(and(isNotNull(orderEvents.sentAt), lt(orderEvents.sentAt, sql`NOW(3) - INTERVAL ${retentionHours} HOUR`)))
        .limit(5000);
      total += res.affectedRows;
      if (res.affectedRows < 5000) break;
    }
    if (total > 0) {
      metrics.orderEventsPruned.inc(total);
      log.info({ pruned: total, retentionHours }, "sent order events past their retention pruned");
    }
    return total;
  }

  async function refreshBacklog(): Promise<void> {
    const b = await outboxBacklog(deps.database.db);
    metrics.orderEventsUnsent.set(b.unsent);
    metrics.orderEventsLag.set(b.oldestAgeSeconds);
  }

  async function run(): Promise<void> {
    let failures = 0;
    let lastBacklog = 0;
    let lastPrune = 0;
    while (!stopped) {
      // Refreshed whatever the pass does: during a Kafka outage the lag is what on-call watches.
      if (Date.now() - lastBacklog >= backlogIntervalMs) {
        lastBacklog = Date.now();
        await refreshBacklog().catch(() => {}); // MySQL away: the gauge waits for the next look
      }
      let pass: RelayPass;
      try {
        await deps.foreground?.yieldTo();
        pass = await relayOnce();
      } catch (err) {
        failures++;
        metrics.orderEventsRelayFailures.inc();
        if (failures === 1 || failures % 20 === 0)
          log.error(
            { err, errno: sqlErrno(err), failures },
            "order events not relayed (Kafka or MySQL unavailable); they stay in the outbox and the relay keeps retrying",
          );
        await pause(Math.min(5000, intervalMs * 2 ** Math.min(failures, 10)));
        continue;
      }
      if (failures > 0) log.warn({ failures }, "order events relayed again after failures");
      failures = 0;
      if (Date.now() - lastPrune >= pruneIntervalMs) {
        lastPrune = Date.now();
        await prune().catch((err) => log.warn({ err }, "pruning sent order events failed; retrying next interval"));
      }
      // Held events wait for another relay's commit: do not spin on them.
      if (pass.claimed < batchSize || pass.held > 0) await pause(intervalMs);
    }
  }

  return {
    relayOnce,
    prune,
    refreshBacklog,
    start(): void {
      if (!stopped) return;
      stopped = false;
      loop = run();
    },
    /** Lets the pass in progress finish (its batch is marked or left unsent), then stops. */
    async stop(): Promise<void> {
      stopped = true;
      wake?.();
      await loop;
    },
  };
}

export type OutboxRelay = ReturnType<typeof createOutboxRelay>;
