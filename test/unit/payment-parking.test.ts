import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createLogger } from "../../apps/core/logger.js";
import type { PaymentMessage } from "../../apps/domain/payment-event.js";
import { createPaymentParking, type ParkedPayment, type SettleResult, waitStart } from "../../apps/lifecycle/payment-parking.js";

const message = (orderId: string): PaymentMessage => ({
  v: 1,
  eventId: `evt-${orderId}`,
  orderId,
  providerTxnId: `txn-${orderId}`,
  amountCents: 100,
  status: "succeeded",
  receivedAt: 1,
});

function setup(answer: (deadlinePassed: boolean, attempt: number) => SettleResult) {
  let t = 0;
  const calls: { orderId: string; at: number; deadlinePassed: boolean }[] = [];
  const settled: number[] = [];
  const parking = createPaymentParking({
    waitMs: 10_000,
    baseBackoffMs: 200,
    maxBackoffMs: 2000,
    logger: createLogger({ level: "silent" }),
    now: () => t,
    async retry(p, deadlinePassed) {
      calls.push({ orderId: p.m.orderId, at: t, deadlinePassed });
      return answer(deadlinePassed, calls.length);
    },
    onSettled: (partition) => settled.push(partition),
  });
  /** Advances the clock in steps, running the due retries at each. */
  const advance = async (ms: number, step = 50) => {
    for (let end = t + ms; t < end; ) {
      t = Math.min(end, t + step);
      await parking.tick();
    }
  };
  return { parking, calls, settled, advance };
}

describe("payment parking", () => {
  it("holds the partition's committable offset at the parked payment until it settles", async () => {
    const { parking, advance, settled } = setup((_, attempt) => (attempt >= 2 ? "settled" : "waiting"));
    parking.handledUpTo(0, 5);
    expect(parking.committable(0)).toBe(5);
    parking.park(message("A"), 0, 7);
    parking.handledUpTo(0, 12);
    expect(parking.committable(0)).toBe(7);
    expect(parking.committable(1)).toBeUndefined();
    await advance(1000);
    expect(settled).toEqual([0]);
    expect(parking.committable(0)).toBe(12);
    expect(parking.size).toBe(0);
  });

  it("retries with a doubling backoff, then once more at the deadline asking it to settle for good", async () => {
    const { parking, advance, calls } = setup((deadlinePassed) => (deadlinePassed ? "settled" : "waiting"));
    parking.park(message("B"), 1, 0);
    await advance(12_000);
    const gaps = calls.slice(1).map((c, i) => c.at - calls[i].at);
    expect(calls[0].at).toBe(200);
    expect(gaps.slice(0, 4)).toEqual([400, 800, 1600, 2000]);
    expect(calls.at(-1)).toEqual({ orderId: "B", at: 10_000, deadlinePassed: true });
    expect(calls.filter((c) => c.deadlinePassed)).toHaveLength(1);
    expect(parking.size).toBe(0);
  });

  it("keeps a redelivered payment's first deadline, and a retry that throws keeps it parked", async () => {
    let fail = true;
    const { parking, advance, calls } = setup((deadlinePassed) => {
      if (fail) throw new Error("MySQL away");
      return deadlinePassed ? "settled" : "waiting";
    });
    expect(parking.park(message("C"), 0, 3)).toBe(true);
    await advance(5000);
    expect(parking.park(message("C"), 0, 3)).toBe(false);
    fail = false;
    await advance(5000);
    expect(calls.at(-1)?.deadlinePassed).toBe(true);
    expect(calls.at(-1)?.at).toBe(10_000);
    expect(parking.size).toBe(0);
  });
});

describe("a parked payment's deadline counts from the message, not from this process", () => {
  const T0 = Date.UTC(2030, 0, 1, 12, 0, 0);
  const WAIT = 10_000;
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
  });
  afterEach(() => vi.useRealTimers());

  /** A parking on the real (fake) clock and timer, as a fresh lifecycle process would make it. */
  function processParking(answer: (deadlinePassed: boolean) => SettleResult = (over) => (over ? "settled" : "waiting")) {
    const calls: { at: number; deadlinePassed: boolean }[] = [];
    const seen: ParkedPayment[] = [];
    const parking = createPaymentParking({
      waitMs: WAIT,
      baseBackoffMs: 200,
      maxBackoffMs: 2000,
      logger: createLogger({ level: "silent" }),
      async retry(p, deadlinePassed) {
        calls.push({ at: Date.now() - T0, deadlinePassed });
        seen.push({ ...p });
        return answer(deadlinePassed);
      },
      onSettled: () => {},
    });
    parking.start(100);
    return { parking, calls, seen };
  }
  const sentAt = (msAgo: number) => ({ ...message("D"), receivedAt: T0 - msAgo });

  it("a payment whose message is already older than the wait is given up at its first retry", async () => {
    const { parking, calls } = processParking();
    parking.park(sentAt(12_000), 0, 4, String(T0 - 12_000));
    await vi.advanceTimersByTimeAsync(1000);
    expect(calls).toEqual([{ at: 100, deadlinePassed: true }]);
    expect(parking.size).toBe(0);
    parking.stop();
  });

  it("waits only what is left of the wait since the message's timestamp, with the same doubling backoff", async () => {
    const { parking, calls, seen } = processParking();
    parking.park(sentAt(4000), 0, 4, String(T0 - 4000));
    await vi.advanceTimersByTimeAsync(10_000);
    expect(calls.map((c) => c.at)).toEqual([200, 600, 1400, 3000, 5000, 6000]);
    expect(calls.map((c) => c.deadlinePassed)).toEqual([false, false, false, false, false, true]);
    expect(seen[0]).toMatchObject({ parkedAt: T0, waitFrom: T0 - 4000, waitFromSource: "message_timestamp", deadline: T0 + 6000 });
    expect(parking.size).toBe(0);
    parking.stop();
  });

  it("a restart that redelivers the payment to a new process keeps its deadline", async () => {
    const stamp = String(T0);
    const first = processParking();
    first.parking.park(sentAt(0), 1, 9, stamp);
    await vi.advanceTimersByTimeAsync(6000);
    first.parking.stop(); // the worker restarts: its parking (and clock of when it parked) is gone
    expect(first.calls.every((c) => !c.deadlinePassed)).toBe(true);

    const second = processParking();
    second.parking.park(sentAt(0), 1, 9, stamp);
    await vi.advanceTimersByTimeAsync(8000);
    expect(second.calls.at(-1)).toEqual({ at: WAIT, deadlinePassed: true });
    expect(second.calls.filter((c) => c.deadlinePassed)).toHaveLength(1);
    expect(second.parking.size).toBe(0);
    second.parking.stop();
  });

  it("falls back to the payload's receivedAt for a missing or garbage timestamp, and to now for one in the future", () => {
    const now = T0;
    expect(waitStart(String(now - 5), now - 9, now)).toEqual({ at: now - 5, source: "message_timestamp" });
    for (const bad of [undefined, null, "", "-1", "0", "abc", "12.5", "1e12", "99999999999999999999"])
      expect(waitStart(bad, now - 9, now)).toEqual({ at: now - 9, source: "received_at" });
    expect(waitStart(String(now + 60_000), now - 9, now)).toEqual({ at: now, source: "message_timestamp" });
    expect(waitStart(undefined, now + 60_000, now)).toEqual({ at: now, source: "received_at" });
    expect(waitStart("abc", 0, now)).toEqual({ at: now, source: "now" });
  });
});
