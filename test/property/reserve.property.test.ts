import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { newOrderId } from "../../apps/core/ids.js";
import { createSaleStore } from "../../apps/domain/sale-store.js";
import { randomId } from "../helpers/env.js";
import { testRedis } from "../helpers/redis.js";

const t = testRedis();
const r = createSaleStore(t.redis, t.prefix);
afterAll(() => t.cleanup());

type Command =
  | { op: "reserve"; user: number }
  | { op: "release"; pick: number }
  | { op: "release-again"; pick: number }
  | { op: "preload" };

const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant("reserve" as const), user: fc.nat(7) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant("release" as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("release-again" as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.constant({ op: "preload" as const }) },
);

const popcount = (n: number) =>
  n
    .toString(2)
    .split("")
    .filter((b) => b === "1").length;

describe("reserve / release / preload scripts, property-based against a model", () => {
  it("stock is never negative, remaining + live store = preloaded, every buyer within the limit", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 3 }),
        fc.array(command, { maxLength: 30 }),
        async (total, limit, commands) => {
          const saleId = randomId("prop-");
          const settings = {
            totalStock: total,
            startsAt: new Date(Date.now() - 1000),
            endsAt: new Date(Date.now() + 3600_000),
            perUserLimit: limit,
            priceCents: 100,
            paymentTimeoutSeconds: 60,
          };
          await r.preload(saleId, settings, true);
          const live: { orderId: string; user: string; slot: number }[] = [];
          const released: { orderId: string; user: string; slot: number }[] = [];
          const k = r.keys(saleId);

          for (const c of commands) {
            if (c.op === "reserve") {
              const user = `u${c.user}`;
              const out = await r.reserve(saleId, user, newOrderId());
              const held = live.filter((l) => l.user === user).length;
              const remaining = total - live.length;
              if (held >= limit) expect(out.kind).toBe("already_purchased");
              else if (remaining < 1) expect(out.kind).toBe("sold_out");
              else {
                expect(out.kind).toBe("reserved");
                if (out.kind === "reserved") {
                  const m = JSON.parse(out.message) as { orderId: string; slot: number };
                  // The slot is one the user does not hold.
                  expect(live.some((l) => l.user === user && l.slot === out.slot)).toBe(false);
                  live.push({ orderId: m.orderId, user, slot: out.slot });
                }
              }
            } else if (c.op === "release" && live.length > 0) {
              const [o] = live.splice(c.pick % live.length, 1);
              expect(await r.release(saleId, o.orderId, o.user, o.slot)).toEqual({ kind: "released", remaining: total - live.length });
              released.push(o);
            } else if (c.op === "release-again" && released.length > 0) {
              const o = released[c.pick % released.length];
              expect(await r.release(saleId, o.orderId, o.user, o.slot)).toEqual({ kind: "already_released" });
            } else if (c.op === "preload") {
              expect(await r.preload(saleId, settings, true)).toEqual({ kind: "already_loaded", remaining: total - live.length });
            }

            const stock = Number(await t.redis.get(k.stock));
            expect(stock).toBeGreaterThanOrEqual(0);
            expect(stock + live.length).toBe(total);
            const buyers = await t.redis.hgetall(k.buyers);
            for (const [user, mask] of Object.entries(buyers)) {
              expect(popcount(Number(mask))).toBeLessThanOrEqual(limit);
              expect(popcount(Number(mask))).toBe(live.filter((l) => l.user === user).length);
            }
            expect(Object.keys(buyers).length).toBe(new Set(live.map((l) => l.user)).size);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("concurrent reserves and releases of one sale never break conservation", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 60 }), async (total, buyers) => {
        const saleId = randomId("conc-");
        await r.preload(
          saleId,
          {
            totalStock: total,
            startsAt: new Date(Date.now() - 1000),
            endsAt: new Date(Date.now() + 3600_000),
            perUserLimit: 1,
            priceCents: 1,
            paymentTimeoutSeconds: 60,
          },
          true,
        );
        const outcomes = await Promise.all(Array.from({ length: buyers }, (_, i) => r.reserve(saleId, `c${i % 25}`, newOrderId())));
        const won = outcomes.filter((o) => o.kind === "reserved");
        expect(won.length).toBe(Math.min(total, new Set(Array.from({ length: buyers }, (_, i) => i % 25)).size));
        // Release half of them concurrently, each twice.
        const half = won
          .slice(0, Math.floor(won.length / 2))
          .map((o) => JSON.parse((o as { message: string }).message) as { orderId: string; userId: string; slot: number });
        const rel = await Promise.all(
          half.flatMap((m) => [r.release(saleId, m.orderId, m.userId, m.slot), r.release(saleId, m.orderId, m.userId, m.slot)]),
        );
        expect(rel.filter((x) => x.kind === "released")).toHaveLength(half.length);
        expect(Number(await t.redis.get(r.keys(saleId).stock))).toBe(total - won.length + half.length);
      }),
      { numRuns: 200 },
    );
  });
});
