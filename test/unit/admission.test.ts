import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { queueAnswer } from "../../apps/domain/admission/answer.js";
import { createPowChallenges, leadingZeroBits, powSolves, solvePow } from "../../apps/domain/admission/challenge.js";
import { createPasses } from "../../apps/domain/admission/pass.js";
import { newQueueSeed, seedCommitment, shuffleScore } from "../../apps/domain/admission/shuffle.js";
import { deriveKey, signToken } from "../../apps/domain/admission/signed.js";
import type { SaleInfo } from "../../apps/domain/sale-cache.js";

const SECRET = "unit-test-secret-0123456789abcdef0123456789";
const sale = (over: Partial<SaleInfo> = {}): SaleInfo => ({
  id: "promo-1",
  title: "t",
  priceCents: 100,
  totalStock: 10,
  startsAt: 0,
  endsAt: 2e12,
  perUserLimit: 1,
  paymentTimeoutSeconds: 900,
  admission: "pass",
  powDifficultyBits: 8,
  inletPerSecond: 50,
  admissionWindowSeconds: 120,
  queueSeed: null,
  ...over,
});

describe("purchase passes", () => {
  let clock = 1_000_000;
  const passes = createPasses(SECRET, () => clock);
  const pass = passes.issue("promo-1", "ann", 1_060_000);

  it("a pass is good for its user and sale until it expires", () => {
    expect(passes.check(pass, "promo-1", "ann")).toBe("ok");
  });

  it("another user's pass and another sale's pass are invalid, ids compared byte for byte", () => {
    expect(passes.check(pass, "promo-1", "bob")).toBe("invalid");
    expect(passes.check(pass, "promo-1", "Ann")).toBe("invalid");
    expect(passes.check(pass, "promo-2", "ann")).toBe("invalid");
    expect(passes.check(pass, "Promo-1", "ann")).toBe("invalid");
  });

  it("a pass past its expiry is refused as expired", () => {
    clock = 1_060_000;
    expect(passes.check(pass, "promo-1", "ann")).toBe("expired");
    clock = 1_000_000;
  });

  it("forged passes are invalid: edited claims, another key, the challenge key, truncated, garbage", () => {
    const [kind, , sig] = pass.split(".");
    const edited = Buffer.from(JSON.stringify({ s: "promo-1", u: "ann", e: 9e15 })).toString("base64url");
    expect(passes.check(`${kind}.${edited}.${sig}`, "promo-1", "ann")).toBe("invalid");
    const otherKey = signToken(deriveKey("another-secret-0123456789abcdef0123", "seckill purchase pass v1"), "p1", {
      s: "promo-1",
      u: "ann",
      e: 9e15,
    });
    expect(passes.check(otherKey, "promo-1", "ann")).toBe("invalid");
    const challengeKey = signToken(deriveKey(SECRET, "seckill pow challenge v1"), "p1", { s: "promo-1", u: "ann", e: 9e15 });
    expect(passes.check(challengeKey, "promo-1", "ann")).toBe("invalid");
    for (const junk of ["", "p1", "p1..", pass.slice(0, -2), `${pass}x`, "x".repeat(5000), "p1.e30.AAAA"]) {
      expect(passes.check(junk, "promo-1", "ann")).toBe("invalid");
    }
  });
});

describe("proof-of-work challenges", () => {
  it("counts leading zero bits of a digest", () => {
    expect(leadingZeroBits(Uint8Array.from([0, 0, 0x80]))).toBe(16);
    expect(leadingZeroBits(Uint8Array.from([0x0f, 0xff]))).toBe(4);
    expect(leadingZeroBits(Uint8Array.from([0, 0]))).toBe(16);
  });

  it("a nonce found by brute force solves the challenge: SHA-256(prefix + nonce) starts with the bits asked", () => {
    const nonce = solvePow("abc", 12);
    const digest = createHash("sha256").update(`abc${nonce}`).digest();
    expect(leadingZeroBits(digest)).toBeGreaterThanOrEqual(12);
    expect(powSolves("abc", nonce, 12)).toBe(true);
  });

  it("a right answer is accepted once; the same challenge again, a wrong nonce, another user's or sale's, or an expired one are refused", async () => {
    let clock = 5_000;
    const spent = new Set<string>();
    const challenges = createPowChallenges({
      secret: SECRET,
      now: () => clock,
      redeem: async (saleId, key) => !spent.has(`${saleId}/${key}`) && Boolean(spent.add(`${saleId}/${key}`)),
    });
    const s = sale();
    const c = challenges.issue(s, "ann") as { challengeId: string; prefix: string; difficultyBits: number; expiresAt: number };
    expect(c.difficultyBits).toBe(8);
    const nonce = solvePow(c.prefix, 8);
    let wrong = "x";
    while (powSolves(c.prefix, wrong, 8)) wrong += "x";

    expect(await challenges.check(s, "ann", { challengeId: c.challengeId, nonce: wrong })).toEqual({ ok: false, reason: "bad_solution" });
    expect(await challenges.check(s, "bob", { challengeId: c.challengeId, nonce })).toEqual({ ok: false, reason: "invalid" });
    expect(await challenges.check(sale({ id: "promo-2" }), "ann", { challengeId: c.challengeId, nonce })).toEqual({
      ok: false,
      reason: "invalid",
    });
    expect(await challenges.check(s, "ann", { challengeId: `${c.challengeId}x`, nonce })).toEqual({ ok: false, reason: "invalid" });
    expect(await challenges.check(s, "ann", { challengeId: c.challengeId, nonce })).toEqual({ ok: true });
    expect(await challenges.check(s, "ann", { challengeId: c.challengeId, nonce })).toEqual({ ok: false, reason: "used" });

    const late = challenges.issue(s, "ann") as { challengeId: string; prefix: string; expiresAt: number };
    clock = late.expiresAt;
    expect(await challenges.check(s, "ann", { challengeId: late.challengeId, nonce: solvePow(late.prefix, 8) })).toEqual({
      ok: false,
      reason: "expired",
    });
  });

  it("difficulty 0 accepts any nonce", () => {
    expect(powSolves("p", "anything", 0)).toBe(true);
  });
});

describe("the committed shuffle", () => {
  it("a seed's commitment is its SHA-256, and scores are fractions in [0, 1) fixed by seed and user", () => {
    const seed = newQueueSeed();
    expect(seed).toMatch(/^[0-9a-f]{64}$/);
    expect(seedCommitment(seed)).toBe(createHash("sha256").update(seed).digest("hex"));
    const a = shuffleScore(seed, "ann");
    expect(a).toBe(shuffleScore(seed, "ann"));
    expect(a).toBeGreaterThanOrEqual(0);
    expect(a).toBeLessThan(1);
    expect(shuffleScore(seed, "Ann")).not.toBe(a);
    expect(shuffleScore(newQueueSeed(), "ann")).not.toBe(a);
    const hex = createHash("sha256").update(`${seed}:ann`).digest("hex");
    expect(a).toBe(Number.parseInt(hex.slice(0, 13), 16) / 2 ** 52);
  });
});

describe("the waiting room's answer", () => {
  const TAU = 10_000;
  const passes = createPasses(SECRET, () => 0);
  const queueSale = sale({ admission: "queue", startsAt: 100_000, endsAt: 10_000_000, inletPerSecond: 50 });

  it("before the start, the wait is the time to the start plus the position at the inlet", () => {
    const a = queueAnswer({ state: "waiting", position: 500 }, { now: 40_000, rate: null, inlet: null }, queueSale, passes, "ann", TAU);
    expect(a).toEqual({ state: "waiting", position: 500, estimatedWaitSeconds: 70, pollAfterSeconds: 5 });
  });

  it("after the start, the wait is the position over the measured rate, corrected for the counter's start", () => {
    // Long after the start the counter is unbiased: 20/s.
    expect(
      queueAnswer({ state: "waiting", position: 400 }, { now: 1_000_000, rate: 20, inlet: 50 }, queueSale, passes, "ann", TAU),
    ).toMatchObject({
      estimatedWaitSeconds: 20,
      pollAfterSeconds: 2,
    });
    // One tau after the start a steady 20/s reads 20 x (1 - 1/e): the estimate divides that back out.
    const early = queueAnswer(
      { state: "waiting", position: 400 },
      { now: 110_000, rate: 20 * (1 - Math.exp(-1)), inlet: 50 },
      queueSale,
      passes,
      "ann",
      TAU,
    );
    expect(early.estimatedWaitSeconds).toBe(20);
  });

  it("a stalled room's wait is capped at the time left in the sale, and the next in line polls every second", () => {
    const stalled = queueAnswer({ state: "waiting", position: 10 }, { now: 9_990_000, rate: 0, inlet: 50 }, queueSale, passes, "ann", TAU);
    expect(stalled.estimatedWaitSeconds).toBe(10);
    const next = queueAnswer({ state: "waiting", position: 1 }, { now: 1_000_000, rate: 50, inlet: 50 }, queueSale, passes, "ann", TAU);
    expect(next).toMatchObject({ estimatedWaitSeconds: 1, pollAfterSeconds: 1 });
  });

  it("an admitted user gets a pass for this user and sale, valid until the admission's expiry", () => {
    const a = queueAnswer({ state: "admitted", passExpiresAt: 5_000 }, { now: 1_000, rate: 50, inlet: 50 }, queueSale, passes, "ann", TAU);
    expect(a).toMatchObject({ state: "admitted", position: 0, estimatedWaitSeconds: 0, passExpiresAt: new Date(5_000).toISOString() });
    expect(passes.check(a.pass!, queueSale.id, "ann")).toBe("ok");
    expect(passes.check(a.pass!, queueSale.id, "bob")).toBe("invalid");
  });
});

describe("after a sell-out", () => {
  it("the first waiters keep polling every 5 s for returned units; the rest every 30 s", () => {
    const passes = createPasses(SECRET);
    const s = sale({ admission: "queue" });
    const clock = { now: 1, rate: 0, inlet: 50 };
    expect(queueAnswer({ state: "sold_out", position: 3 }, clock, s, passes, "ann", 10_000)).toEqual({
      state: "sold_out",
      position: 3,
      estimatedWaitSeconds: 0,
      pollAfterSeconds: 5,
    });
    expect(queueAnswer({ state: "sold_out", position: 11 }, clock, s, passes, "ann", 10_000).pollAfterSeconds).toBe(30);
  });
});
