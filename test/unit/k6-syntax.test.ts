import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

/**
 * k6 v0.47's JavaScript runtime (goja) does not parse some later syntax; a script using it fails
 * before its first request. No k6 binary here, so the check is on the source: numeric separators
 * (ES2021), object spread (ES2018), optional chaining and nullish coalescing (ES2020).
 */
const DIR = new URL("../../loadtest/k6/", import.meta.url);
const UNSUPPORTED: [string, RegExp][] = [
  ["numeric separator", /\b\d+_\d/],
  ["spread", /\.\.\./],
  ["optional chaining", /\?\.(?!\d)/],
  ["nullish coalescing", /\?\?/],
];

describe("k6 scripts", () => {
  for (const file of readdirSync(DIR).filter((f) => f.endsWith(".js"))) {
    it(`${file} uses only syntax k6 v0.47 parses`, () => {
      const found = readFileSync(new URL(file, DIR), "utf8")
        .split("\n")
        .flatMap((line, i) => UNSUPPORTED.filter(([, re]) => re.test(line)).map(([what]) => `${file}:${i + 1} ${what}: ${line.trim()}`));
      expect(found).toEqual([]);
    });
  }
});
