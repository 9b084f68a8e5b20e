import type { Logger } from "../core/logger.js";
import type { PaymentMessage } from "../domain/payment-event.js";

/**
 * Payments waiting for their order to become a MySQL row, each on its own: the partition goes
 * on with the payments behind it, and a parked one is retried with backoff until its deadline.
 *
 * Offsets: a parked payment's offset is not committed until it is settled (applied, or ended
 * `unknown_order` at its deadline), so a crash redelivers it; the payments behind it that were
 * applied meanwhile are redelivered too and are no-ops (the unique provider transaction id).
 * `committable(partition)` is the offset the consumer may commit: the lowest parked offset of
 * the partition, else the next offset after what it handled.
 *
 * The deadline is `waitFrom + waitMs`, where `waitFrom` is a durable instant carried by the
 * message itself (see `waitStart`: the Kafka message's timestamp), not the moment this process
 * parked it: a restart, deploy or rebalance that redelivers the payment to a fresh process keeps
 * its deadline instead of starting the wait again (which let a payment for an order that never
 * arrives hold its partition's committed offset back for ever). Past the deadline, `retry` decides:
 * the payments consumer gives up (unknown_order) only once the order writer has passed what Kafka
 * held then, so an outage longer than the wait does not turn payments for orders still in Kafka
 * into unknown_order.
 */
export interface ParkedPayment {
  m: PaymentMessage;
  partition: number;
  offset: number;
  /** When this process parked it (ms since the epoch). */
  parkedAt: number;
  /** The instant its wait counts from (ms since the epoch), and where it was taken from (see `waitStart`). */
  waitFrom: number;
  waitFromSource: WaitStartSource;
  /** `waitFrom + waitMs`: at or after it, the next retry asks it to settle for good. */
  deadline: number;
  attempts: number;
  nextAt: number;
}

export type SettleResult = "settled" | "waiting";

/** Where a parked payment's wait counts from: see `waitStart`. */
export type WaitStartSource = "message_timestamp" | "received_at" | "now";

/**
 * The instant (ms since the epoch) a payment's wait for its order counts from, the same in every
 * process that ever reads the message:
 *
 * 1. the Kafka message's timestamp (`message.timestamp` from kafkajs: ms since the epoch as a
 *    decimal string; CreateTime, set when the API produced the callback's event, or the broker's
 *    LogAppendTime if the topic is configured so) when it is a positive integer;
 * 2. else the payload's `receivedAt` (ms; when the API received the callback) when it is one;
 * 3. else `now` (source `now`: the wait then restarts with each process, as it did before).
 *
 * A start later than `now` (the producer's clock ahead of this one) is taken as `now`, so clock
 * skew can never lengthen the wait beyond `waitMs` from here; once this clock passes the
 * timestamp, the timestamp itself is used, so such a reset is bounded by the skew.
 */
export function waitStart(
  messageTimestamp: string | undefined | null,
  receivedAt: number | undefined,
  now: number,
): { at: number; source: WaitStartSource } {
  const ts = messageTimestamp != null && /^\d{1,16}$/.test(messageTimestamp.trim()) ? Number(messageTimestamp.trim()) : Number.NaN;
  const candidates: [number | undefined, WaitStartSource][] = [
    [ts, "message_timestamp"],
    [receivedAt, "received_at"],
  ];
  for (const [at, source] of candidates) {
    if (at !== undefined && Number.isSafeInteger(at) && at > 0) return { at: Math.min(at, now), source };
  }
  return { at: now, source: "now" };
}

export function createPaymentParking(opts: {
  /** How long a payment waits for its order (ms) before it ends as `unknown_order`. */
  waitMs: number;
  /** First retry after this many ms, doubling up to `maxBackoffMs`. */
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  /** Retries one parked payment; `deadlinePassed` asks it to settle for good. Throwing keeps it parked. */
  retry: (p: ParkedPayment, deadlinePassed: boolean) => Promise<SettleResult>;
  /** Called after a payment settled, with its partition (to commit what is now committable). */
  onSettled: (partition: number) => void;
  /** Called whenever the number of parked payments changes. */
  onCount?: (n: number) => void;
  logger: Logger;
  now?: () => number;
}) {
  const now = opts.now ?? Date.now;
  const base = opts.baseBackoffMs ?? 200;
  const cap = opts.maxBackoffMs ?? 5000;
  const parked = new Map<string, ParkedPayment>();
  const handled = new Map<number, number>();
  let timer: NodeJS.Timeout | undefined;
  let running = false;

  const key = (partition: number, offset: number) => `${partition}:${offset}`;
  const backoff = (attempts: number) => Math.min(cap, base * 2 ** Math.min(20, attempts - 1));

  async function tick(): Promise<void> {
    if (running) return;
    running = true;
    try {
      const t = now();
      for (const p of [...parked.values()]) {
        if (p.nextAt > t) continue;
        const over = now() >= p.deadline;
        let result: SettleResult = "waiting";
        try {
          result = await opts.retry(p, over);
        } catch (err) {
          opts.logger.warn(
            { err, orderId: p.m.orderId, eventId: p.m.eventId },
            "parked payment not retried (MySQL or Redis trouble); trying again",
          );
        }
        if (result === "settled") {
          parked.delete(key(p.partition, p.offset));
          opts.onCount?.(parked.size);
          opts.onSettled(p.partition);
        } else {
          p.attempts++;
          // Before the deadline, the deadline itself is the last retry's time; past it (still
          // waiting for the order writer), plain backoff.
          const t2 = now();
          p.nextAt = p.deadline > t2 ? Math.min(p.deadline, t2 + backoff(p.attempts)) : t2 + backoff(p.attempts);
        }
      }
    } finally {
      running = false;
    }
  }

  return {
    /**
     * Parks a payment whose wait counts from `waitStart(messageTimestamp, m.receivedAt, now)`
     * (`messageTimestamp`: kafkajs's `message.timestamp`). Its first retry comes after the base
     * backoff, or at once when its deadline has already passed. Returns false when it was already
     * parked (a redelivery keeps its first deadline).
     */
    park(m: PaymentMessage, partition: number, offset: number, messageTimestamp?: string | null): boolean {
      const k = key(partition, offset);
      if (parked.has(k)) return false;
      const t = now();
      const from = waitStart(messageTimestamp, m.receivedAt, t);
      const deadline = from.at + opts.waitMs;
      const p: ParkedPayment = {
        m,
        partition,
        offset,
        parkedAt: t,
        waitFrom: from.at,
        waitFromSource: from.source,
        deadline,
        attempts: 1,
        nextAt: Math.min(deadline, t + backoff(1)),
      };
      parked.set(k, p);
      opts.onCount?.(parked.size);
      return true;
    },
    isParked: (partition: number, offset: number) => parked.has(key(partition, offset)),
    /** The parked payment at this offset, if any. */
    get: (partition: number, offset: number): ParkedPayment | undefined => parked.get(key(partition, offset)),
    /** Records that every message of the partition up to `nextOffset` (exclusive) was handled or parked. */
    handledUpTo(partition: number, nextOffset: number): void {
      handled.set(partition, Math.max(handled.get(partition) ?? 0, nextOffset));
    },
    /** The offset the consumer may commit for the partition, or undefined when nothing was handled yet. */
    committable(partition: number): number | undefined {
      const next = handled.get(partition);
      if (next === undefined) return undefined;
      let low = next;
      for (const p of parked.values()) if (p.partition === partition && p.offset < low) low = p.offset;
      return low;
    },
    get size() {
      return parked.size;
    },
    /** Runs the retries due now (the timer calls it; tests may too). */
    tick,
    start(intervalMs = 100): void {
      timer ??= setInterval(() => void tick(), intervalMs);
      timer.unref?.();
    },
    stop(): void {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
}

export type PaymentParking = ReturnType<typeof createPaymentParking>;
