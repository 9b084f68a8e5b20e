import { describe, expect, it } from "vitest";
import { createRecentHolders } from "../../apps/gateway/holders.js";

describe("recent holders (the gateway's memory of 409s)", () => {
  it("remembers a buyer for the TTL only, per sale", () => {
    let t = 1000;
    const h = createRecentHolders({ ttlMs: 500, now: () => t });
    h.remember("s1", "u1");
    expect(h.holds("s1", "u1")).toBe(true);
    expect(h.holds("s2", "u1")).toBe(false);
    expect(h.holds("s1", "u2")).toBe(false);
    t += 499;
    expect(h.holds("s1", "u1")).toBe(true);
    t += 1;
    expect(h.holds("s1", "u1")).toBe(false);
    expect(h.size).toBe(0); // an expired entry found is dropped
  });

  it("stays within its bound however many distinct buyers pass, dropping the oldest first", () => {
    const h = createRecentHolders({ maxEntries: 1000 });
    for (let i = 0; i < 100_000; i++) h.remember("s", `u${i}`);
    expect(h.size).toBe(1000);
    expect(h.holds("s", "u99999")).toBe(true);
    expect(h.holds("s", "u98999")).toBe(false);
  });

  it("a buyer remembered again moves to the back, so the bound drops someone older", () => {
    const h = createRecentHolders({ maxEntries: 2 });
    h.remember("s", "a");
    h.remember("s", "b");
    h.remember("s", "a");
    h.remember("s", "c");
    expect([h.holds("s", "a"), h.holds("s", "b"), h.holds("s", "c")]).toEqual([true, false, true]);
  });

  it("forget(sale) voids that sale's buyers remembered so far, and only those", () => {
    const h = createRecentHolders();
    h.remember("s1", "a");
    h.remember("s2", "a");
    h.forget("s1");
    expect(h.holds("s1", "a")).toBe(false);
    expect(h.holds("s2", "a")).toBe(true);
    h.remember("s1", "a"); // answered 409 again after the restock: remembered anew
    expect(h.holds("s1", "a")).toBe(true);
  });
});
