import { describe, expect, it } from "vitest";
import { loadLuaScripts, type Redis } from "../../apps/core/redis.js";
import { createWaitingRoom } from "../../apps/domain/admission/waiting-room.js";
import type { SaleInfo } from "../../apps/domain/sale-cache.js";

/** Redis Cluster's rule: a key's slot comes from the text between its first `{` and the next `}`, when not empty. */
function hashTag(key: string): string {
  const open = key.indexOf("{");
  const close = open < 0 ? -1 : key.indexOf("}", open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : key;
}

describe("admission scripts on Redis Cluster", () => {
  it("every call of every admission script passes keys of one sale's hash tag only", async () => {
    const numberOfKeys = new Map(loadLuaScripts().map((s) => [s.command, s.numberOfKeys]));
    const calls: { command: string; keys: string[] }[] = [];
    const replies: Record<string, unknown> = {
      seckill_queue_join: [1, 0, 0, 1, 0, 0, ""],
      seckill_queue_status: [2, 0, 0, 1, 0, 0, ""],
      seckill_queue_admit: [0, 0, 0, 0, 0, 1, 0],
      seckill_queue_convert: 1,
      seckill_challenge_redeem: 1,
    };
    // Records each script call with the keys it names (the first numberOfKeys arguments).
    const fake = new Proxy(
      {},
      {
        get(_, name: string) {
          if (name in replies) {
            return async (...args: unknown[]) => {
              calls.push({ command: name, keys: args.slice(0, numberOfKeys.get(name)).map(String) });
              return replies[name];
            };
          }
          return async () => 1; // plain commands (sadd, hset, ...) touch one key each
        },
      },
    ) as unknown as Redis;
    const room = createWaitingRoom(fake, "p:");
    const sale = { id: "Promo-1", startsAt: 0, endsAt: 1e13, inletPerSecond: 5, admissionWindowSeconds: 60, queueSeed: "ab" } as SaleInfo;
    await room.join(sale, "ann");
    await room.status(sale, "ann");
    await room.admit(sale, 100);
    await room.converted(sale, "ann");
    await room.redeemChallenge(sale.id, "c0ffee", 1000);
    // A sale split over buckets: the same scripts, still on the sale's base slot only, whatever the bucket count.
    const split = { ...sale, stockBuckets: 8 };
    await room.join(split, "ann");
    await room.status(split, "ann");
    await room.admit(split, 100, 1000, { total: 5, converted: 0, seq: 1 });
    await room.converted(split, "ann");

    expect(new Set(calls.map((c) => c.command))).toEqual(new Set(Object.keys(replies)));
    for (const c of calls) {
      expect(c.keys.length).toBe(numberOfKeys.get(c.command));
      expect({ command: c.command, tags: [...new Set(c.keys.map(hashTag))] }).toEqual({ command: c.command, tags: ["sale:Promo-1"] });
    }
  });
});
