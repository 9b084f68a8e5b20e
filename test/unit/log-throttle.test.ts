import { describe, expect, it } from "vitest";
import { throttledLog } from "../../apps/core/log-throttle.js";

describe("throttled log", () => {
  it("writes the first of a burst at once, then at most one line per interval saying how many it left out", () => {
    let now = 0;
    const lines: number[] = [];
    const log = throttledLog(10_000, () => now);
    for (let i = 0; i < 724; i++) {
      log((suppressed) => lines.push(suppressed));
      now += 10; // 724 refused callbacks over ~7 s
    }
    expect(lines).toEqual([0]);
    now = 10_000;
    log((suppressed) => lines.push(suppressed));
    expect(lines).toEqual([0, 723]);
    now = 30_000;
    log((suppressed) => lines.push(suppressed));
    expect(lines).toEqual([0, 723, 0]);
  });
});
