import { describe, expect, it } from "vitest";
import { createLogger } from "../../apps/core/logger.js";
import type { PaymentMessage } from "../../apps/domain/payment-event.js";
import { createPaymentParking, type SettleResult } from "../../apps/lifecycle/payment-parking.js";

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
