import { describe, expect, it } from "vitest";
import { createLogger } from "../../apps/core/logger.js";
import { createPlatformMetrics, createRegistry } from "../../apps/core/metrics.js";
import { createAdmitter } from "../../apps/domain/admission/admitter.js";
import type { AdmitResult, WaitingRoom } from "../../apps/domain/admission/waiting-room.js";
import type { SaleCache, SaleInfo } from "../../apps/domain/sale-cache.js";

const sale = (id: string, stockBuckets: number) =>
  ({ id, admission: "queue", endsAt: Date.now() + 60_000, startsAt: 0, stockBuckets }) as unknown as SaleInfo;

describe("the admission tick", () => {
  it("one sale whose stock cannot be read (a bucket's Redis master away) does not stop the other sales' waiting rooms", async () => {
    const sales = new Map([
      ["split", sale("split", 8)],
      ["plain", sale("plain", 1)],
    ]);
    const admitted: string[] = [];
    const room = {
      queuedSales: async () => ["split", "plain"],
      unlist: async () => {},
      beginStockRead: async () => ({ seq: 1, converted: 0 }),
      admit: async (s: SaleInfo): Promise<AdmitResult> => {
        admitted.push(s.id);
        return { admitted: [], converted: 0, lapsed: 0, waiting: 0, holding: 0, rate: 0 } as unknown as AdmitResult;
      },
    } as unknown as WaitingRoom;
    const saleCache = { get: async (id: string) => sales.get(id) ?? null } as unknown as SaleCache;
    const stock = {
      unsold: async (): Promise<number | null> => {
        throw new Error("CLUSTERDOWN The cluster is down");
      },
    };
    const admitter = createAdmitter(
      { room, saleCache, stock, metrics: createPlatformMetrics(createRegistry()), logger: createLogger({ level: "silent" }) },
      { tickMs: 100 },
    );
    await expect(admitter.tick()).rejects.toThrow(/sale\(s\) split: .*CLUSTERDOWN/);
    expect(admitted).toEqual(["plain"]);
  });
});
