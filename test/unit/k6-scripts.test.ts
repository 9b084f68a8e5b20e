import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "acorn";
import { describe, expect, it } from "vitest";

/**
 * k6 v0.47 (the newest Debian's Go builds) refuses a script with syntax newer than ES2017 before
 * running anything: numeric separators (`1_000_000`: "Identifier directly after number") and
 * object spread (`{...x}`: "Unexpected token") were both found that way. The Node twins cannot
 * catch it, so every script is parsed here as an ES2017 module.
 */
const dir = "loadtest/k6";
const scripts = readdirSync(dir).filter((f) => f.endsWith(".js"));

function parseAsK6(source: string) {
  return parse(source, { ecmaVersion: 2017, sourceType: "module" });
}

describe("k6 scripts", () => {
  it("are there to check", () => {
    expect(scripts).toEqual(expect.arrayContaining(["lib.js", "sellout.js", "soak.js", "spike.js"]));
  });

  for (const file of scripts) {
    it(`${file} parses as an ES2017 module, as k6 v0.47 requires`, () => {
      expect(() => parseAsK6(readFileSync(join(dir, file), "utf8"))).not.toThrow();
    });
  }

  it("the check refuses the syntax k6 v0.47 refused", () => {
    expect(() => parseAsK6("const n = 1_000_000;")).toThrow();
    expect(() => parseAsK6("const a = {}; const b = { ...a };")).toThrow();
    expect(() => parseAsK6("const a = {}; const b = a?.x;")).toThrow();
  });
});
