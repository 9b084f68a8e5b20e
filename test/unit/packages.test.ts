import { describe, expect, it } from "vitest";
import { ensurePackages, MissingPackagesError } from "../../infra/packages.js";

describe("Debian packages for the embedded stack", () => {
  it("without root, a missing package stops with the exact command to run", () => {
    let thrown: unknown;
    try {
      ensurePackages(["librdkafka-dev", "gcc", "redis-server"], { isRoot: false, present: (p) => p === "redis-server" });
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(MissingPackagesError);
    expect((thrown as MissingPackagesError).packages).toEqual(["librdkafka-dev", "gcc"]);
    expect((thrown as Error).message).toContain("apt-get update && apt-get install -y librdkafka-dev gcc");
  });

  it("does nothing when everything is there", () => {
    expect(() => ensurePackages(["gcc"], { isRoot: false, present: () => true })).not.toThrow();
  });
});
