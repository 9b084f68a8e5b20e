import { describe, expect, it } from "vitest";
import { SCENARIOS } from "./scenarios.js";

/**
 * The fault scenarios, short variants (npm run chaos runs the full ones and prints the table).
 * Each starts its own Redis, MariaDB and Kafka, so it may kill them.
 */
describe("chaos (short variants): nothing accepted is lost, duplicated or oversold", () => {
  for (const [name, run] of Object.entries(SCENARIOS)) {
    it(name, async () => {
      const r = await run("short");
      console.log(`[chaos] ${r.scenario}: accepted ${r.accepted}, rows ${r.rows}, recover ${r.recoverMs} ms; ${r.notes.join("; ")}`);
      expect({ lost: r.lost, duplicates: r.duplicates, oversold: r.oversold }).toEqual({ lost: 0, duplicates: 0, oversold: 0 });
      expect(r.accepted).toBeGreaterThan(0);
      expect(r.rows).toBe(r.accepted);
      expect(r.pass).toBe(true);
    }, 300_000);
  }
});
