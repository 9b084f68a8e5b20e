import { describe, expect, it } from "vitest";
import { TokenBucket } from "../../apps/order-writer/token-bucket.js";

function clock() {
  let t = 0;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe("the writer's token bucket", () => {
  it("lets the initial capacity through at once, then makes the caller wait for the refill", () => {
    const c = clock();
    const b = new TokenBucket(1000, 100, c.now);
    expect(b.reserve(100)).toBe(0);
    expect(b.reserve(50)).toBe(50); // 50 tokens at 1,000/s
  });

  it("a batch larger than the bucket goes through as a debt, paid back at the rate", () => {
    const c = clock();
    const b = new TokenBucket(2000, 200, c.now);
    expect(b.reserve(200)).toBe(0);
    expect(b.reserve(500)).toBe(250);
    c.advance(250);
    expect(b.reserve(1)).toBeCloseTo(0.5, 5);
  });

  it("over a long run, honouring every wait admits exactly the rate", () => {
    const c = clock();
    const b = new TokenBucket(2000, 200, c.now);
    let rows = 0;
    // Batches of 500 for 10 simulated seconds, each started after its wait.
    while (c.now() < 10_000) {
      c.advance(b.reserve(500));
      rows += 500;
    }
    const rate = (rows - 200) / (c.now() / 1000); // minus the initial burst
    expect(rate).toBeGreaterThan(1990);
    expect(rate).toBeLessThanOrEqual(2000.0001);
  });

  it("idle time refills no more than the capacity", () => {
    const c = clock();
    const b = new TokenBucket(1000, 100, c.now);
    b.reserve(100);
    c.advance(60_000);
    expect(b.reserve(100)).toBe(0);
    expect(b.reserve(1)).toBe(1);
  });
});
