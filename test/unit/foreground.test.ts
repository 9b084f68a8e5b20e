import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createForeground } from "../../apps/core/foreground.js";

/** The bounded holds background work takes behind purchases in flight (apps/core/foreground.ts). */
describe("foreground", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });
  const clock = () => Date.now(); // faked
  const settled = (p: Promise<void>) => {
    let done = false;
    void p.then(() => {
      done = true;
    });
    return () => done;
  };

  it("with no purchase in flight a background step goes at once", async () => {
    const f = createForeground(500, clock);
    const done = settled(f.yieldTo());
    await Promise.resolve();
    expect(done()).toBe(true);
  });

  it("waits while purchases are in flight and goes once the last one answered", async () => {
    const f = createForeground(500, clock);
    f.enter();
    f.enter();
    const done = settled(f.yieldTo());
    await vi.advanceTimersByTimeAsync(100);
    expect(done()).toBe(false);
    f.leave();
    await vi.advanceTimersByTimeAsync(100);
    expect(done()).toBe(false);
    f.leave();
    await vi.advanceTimersByTimeAsync(10);
    expect(done()).toBe(true);
    expect(f.inFlight).toBe(0);
  });

  it("a hold never lasts longer than its bound, however long the crowd lasts; steps that join it end with it", async () => {
    const f = createForeground(500, clock);
    f.enter();
    const first = settled(f.yieldTo());
    await vi.advanceTimersByTimeAsync(300);
    const second = settled(f.yieldTo()); // joins the hold: ends when it ends, not 500 ms later
    await vi.advanceTimersByTimeAsync(190);
    expect([first(), second()]).toEqual([false, false]);
    await vi.advanceTimersByTimeAsync(20);
    expect([first(), second()]).toEqual([true, true]);
  });

  it("under a sustained load, a hold that ran to its limit is followed by twice as long free", async () => {
    const f = createForeground(500, clock);
    f.enter(); // never leaves
    await vi.advanceTimersByTimeAsync(0);
    const held = settled(f.yieldTo());
    await vi.advanceTimersByTimeAsync(510);
    expect(held()).toBe(true);
    // The next 1,000 ms: every step goes at once.
    for (let i = 0; i < 9; i++) {
      const step = settled(f.yieldTo());
      await Promise.resolve();
      expect(step()).toBe(true);
      await vi.advanceTimersByTimeAsync(100);
    }
    await vi.advanceTimersByTimeAsync(100);
    // Then a new hold.
    const again = settled(f.yieldTo());
    await vi.advanceTimersByTimeAsync(100);
    expect(again()).toBe(false);
    await vi.advanceTimersByTimeAsync(420);
    expect(again()).toBe(true);
  });

  it("a load with a short lull just before each hold's limit still leaves background work two thirds of its time", async () => {
    // Purchases in flight all the time except 15 ms every 500 ms, just before a hold would reach
    // its 500 ms limit: each hold ends on the lull, not at its limit.
    const f = createForeground(500, clock);
    f.enter();
    const lulls = setInterval(() => {
      f.leave();
      setTimeout(() => f.enter(), 15);
    }, 500);
    let waited = 0;
    let running = true;
    const background = (async () => {
      while (running) {
        const asked = clock();
        await f.yieldTo();
        waited += clock() - asked;
        await new Promise((resolve) => setTimeout(resolve, 10)); // one batch's work
      }
    })();
    await vi.advanceTimersByTimeAsync(10_000);
    running = false;
    clearInterval(lulls);
    await vi.advanceTimersByTimeAsync(1000);
    await background;
    expect(waited).toBeLessThanOrEqual(10_000 / 3 + 500);
  });

  it("BACKGROUND_YIELD_MS=0 turns it off", async () => {
    const f = createForeground(0, clock);
    f.enter();
    const done = settled(f.yieldTo());
    await Promise.resolve();
    expect(done()).toBe(true);
  });
});
