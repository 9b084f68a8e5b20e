import { describe, expect, it } from "vitest";
import { scenarioPasses } from "../chaos/verdict.js";

describe("chaos verdict: npm test asserts invariants, the full run also latencies", () => {
  it("a short variant over its latency bound still passes when the invariants hold", () => {
    expect(scenarioPasses("short", { invariantsHold: true, extraPass: true, latencyPass: false })).toBe(true);
  });

  it("the full run fails a scenario over its latency bound", () => {
    expect(scenarioPasses("full", { invariantsHold: true, extraPass: true, latencyPass: false })).toBe(false);
  });

  it("a broken invariant or outcome check fails both variants", () => {
    for (const size of ["short", "full"] as const) {
      expect(scenarioPasses(size, { invariantsHold: false, latencyPass: true })).toBe(false);
      expect(scenarioPasses(size, { invariantsHold: true, extraPass: false, latencyPass: true })).toBe(false);
    }
  });
});
