import { describe, expect, it, vi } from "vitest";
import type { Logger } from "../../apps/core/logger.js";
import { announceSaleChanged } from "../../apps/domain/sale-changes.js";

describe("announceSaleChanged", () => {
  it("a failed publish does not throw: it logs a warning naming the sale", async () => {
    const warn = vi.fn();
    const store = { announceSaleChanged: () => Promise.reject(new Error("connection lost")) };
    await expect(announceSaleChanged({ store, logger: { warn } as unknown as Logger }, "sale-42")).resolves.toBeUndefined();
    expect(warn).toHaveBeenCalledOnce();
    const [fields, message] = warn.mock.calls[0];
    expect(fields).toMatchObject({ saleId: "sale-42" });
    expect(fields.err.message).toBe("connection lost");
    expect(message).toMatch(/within 6 s/);
  });

  it("publishes the sale id once", async () => {
    const announce = vi.fn(async () => 2);
    await announceSaleChanged({ store: { announceSaleChanged: announce }, logger: {} as Logger }, "sale-7");
    expect(announce).toHaveBeenCalledExactlyOnceWith("sale-7");
  });
});
