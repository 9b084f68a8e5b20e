import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createForeground } from "../../apps/core/foreground.js";

/** The bounded wait background work takes behind purchases in flight (apps/core/foreground.ts). */
describe("foreground", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });
  const settled = (p: Promise<void>) => {
    let done = false;
    void p.then(() => {
      done = true;
    });
    return () => done;
  };

  it("with no purchase in flight a background step goes at once", async () => {
    const f = createForeground(500);
    const done = settled(f.yieldTo());
    await Promise.resolve();
    expect(done()).toBe(true);
  });

  it("waits while purchases are in flight and goes once the last one answered", async () => {
    const f = createForeground(500);
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

  it("never waits longer than its bound, however long the crowd lasts", async () => {
    const f = createForeground(500);
    f.enter();
    const done = settled(f.yieldTo());
    await vi.advanceTimersByTimeAsync(490);
    expect(done()).toBe(false);
    await vi.advanceTimersByTimeAsync(20);
    expect(done()).toBe(true);
    // A step that asks for less (or none) gets that.
    const quick = settled(f.yieldTo(0));
    await Promise.resolve();
    expect(quick()).toBe(true);
  });

  it("BACKGROUND_YIELD_MS=0 turns it off", async () => {
    const f = createForeground(0);
    f.enter();
    const done = settled(f.yieldTo());
    await Promise.resolve();
    expect(done()).toBe(true);
  });
});
