import { describe, expect, it } from "vitest";
import { fullPassReason, type QuickLook } from "../../apps/domain/reconcile.js";

const fine: QuickLook = {
  loaded: true,
  blocked: false,
  started: true,
  totalStock: 100,
  remaining: 60,
  accepted: 45,
  released: 5,
  rows: 40,
  owed: 0,
};

describe("when the periodic reconcile reads a sale whole", () => {
  it("not when Redis and MySQL's cheap figures agree (orders still on their way to MySQL included)", () => {
    expect(fullPassReason(fine)).toBeNull();
  });

  it("when the sale is gone from Redis after it started or sold, but not before anything happened", () => {
    expect(fullPassReason({ ...fine, loaded: false })).toBe("not loaded in Redis");
    expect(fullPassReason({ ...fine, loaded: false, started: false, rows: 3 })).toBe("not loaded in Redis");
    expect(fullPassReason({ ...fine, loaded: false, started: false, rows: 0 })).toBeNull();
  });

  it("when blocked, owing units, drifting, or when MySQL has orders Redis never accepted", () => {
    expect(fullPassReason({ ...fine, blocked: true })).toBe("blocked until reconcile");
    expect(fullPassReason({ ...fine, owed: 2 })).toBe("2 closed order(s) owe their unit");
    expect(fullPassReason({ ...fine, remaining: 61 })).toBe("Redis counters drift by 1");
    expect(fullPassReason({ ...fine, rows: 46 })).toBe("MySQL has more orders than Redis accepted");
  });
});
