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
 * The deadline counts from when this process first parked the payment (not from the callback's
 * arrival), so a backlog read after a consumer outage still gives each order its full wait.
 */
export interface ParkedPayment {
  m: PaymentMessage;
  partition: number;
  offset: number;
  parkedAt: number;
  deadline: number;
  attempts: number;
  nextAt: number;
}

export type SettleResult = "settled" | "waiting";

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
          p.nextAt = Math.min(p.deadline, now() + backoff(p.attempts));
        }
      }
    } finally {
      running = false;
    }
  }

  return {
    /**
     * Parks a payment (a redelivered one keeps its first deadline). Returns false when it was
     * already parked.
     */
    park(m: PaymentMessage, partition: number, offset: number): boolean {
      const k = key(partition, offset);
      if (parked.has(k)) return false;
      const t = now();
      parked.set(k, { m, partition, offset, parkedAt: t, deadline: t + opts.waitMs, attempts: 1, nextAt: t + backoff(1) });
      opts.onCount?.(parked.size);
      return true;
    },
    isParked: (partition: number, offset: number) => parked.has(key(partition, offset)),
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
