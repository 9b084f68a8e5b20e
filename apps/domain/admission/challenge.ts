import { createHash, randomBytes } from "node:crypto";
import type { SaleInfo } from "../sale-cache.js";
import { deriveKey, signToken, verifyToken } from "./signed.js";

/**
 * The step a user passes to get a purchase pass in a `pass` sale. An interface, so a quiz or a
 * third-party CAPTCHA can replace the proof of work: `issue` says what to solve, `check` judges an
 * answer and spends it (a challenge buys at most one pass).
 */
export interface ChallengeProvider {
  readonly algorithm: string;
  /** The challenge body for GET /api/sales/:saleId/challenge (expiresAt in ms; the route formats it). */
  issue(sale: SaleInfo, userId: string): { challengeId: string; expiresAt: number } & Record<string, unknown>;
  /** Judges the body of POST /api/sales/:saleId/pass. */
  check(sale: SaleInfo, userId: string, answer: { challengeId: string; nonce: string }): Promise<ChallengeCheck>;
}

export type ChallengeCheck =
  | { ok: true }
  /** invalid: forged, another user's or sale's; expired; used: solved before; bad_solution: wrong answer. */
  | { ok: false; reason: "invalid" | "expired" | "used" | "bad_solution" };

/** Leading zero bits of a digest. */
export function leadingZeroBits(digest: Uint8Array): number {
  let bits = 0;
  for (const byte of digest) {
    if (byte === 0) {
      bits += 8;
      continue;
    }
    return bits + Math.clz32(byte) - 24;
  }
  return bits;
}

/** Whether SHA-256(prefix + nonce) (UTF-8 strings, concatenated) has `bits` leading zero bits. */
export function powSolves(prefix: string, nonce: string, bits: number): boolean {
  return (
    leadingZeroBits(
      createHash("sha256")
        .update(prefix + nonce)
        .digest(),
    ) >= bits
  );
}

/** Finds a nonce by brute force (tests, load generators, the figures script): about 2^bits hashes. */
export function solvePow(prefix: string, bits: number): string {
  for (let i = 0; ; i++) if (powSolves(prefix, String(i), bits)) return String(i);
}

export const CHALLENGE_TTL_MS = 120_000;

/**
 * Proof of work, hashcash-style (Back, 2002): find a nonce such that SHA-256(prefix + nonce) has
 * the sale's `powDifficultyBits` leading zero bits; that takes 2^bits hashes on average, and
 * checking it takes one. The challenge is a signed token (user, sale, difficulty, expiry, random
 * prefix), so issuing one writes nothing; only a correct solution costs a Redis call, which marks
 * the challenge spent (`redeem` answers false the second time).
 */
export function createPowChallenges(deps: {
  secret: string;
  /** Marks a challenge spent (by its random prefix, unique per challenge); false when it already was. */
  redeem: (saleId: string, challengeKey: string, ttlMs: number) => Promise<boolean>;
  now?: () => number;
  ttlMs?: number;
}): ChallengeProvider {
  const key = deriveKey(deps.secret, "seckill pow challenge v1");
  const now = deps.now ?? Date.now;
  const ttlMs = deps.ttlMs ?? CHALLENGE_TTL_MS;
  return {
    algorithm: "sha256-pow",
    issue(sale, userId) {
      const prefix = randomBytes(16).toString("hex");
      const expiresAt = now() + ttlMs;
      const challengeId = signToken(key, "c1", { s: sale.id, u: userId, e: expiresAt, d: sale.powDifficultyBits, p: prefix });
      return { challengeId, algorithm: "sha256-pow", prefix, difficultyBits: sale.powDifficultyBits, expiresAt };
    },
    async check(sale, userId, answer) {
      const c = verifyToken(key, "c1", answer.challengeId);
      if (!c || c.s !== sale.id || c.u !== userId || typeof c.e !== "number" || typeof c.d !== "number" || typeof c.p !== "string") {
        return { ok: false, reason: "invalid" };
      }
      const left = c.e - now();
      if (left <= 0) return { ok: false, reason: "expired" };
      // The difficulty the challenge was issued with: a later change of the sale applies to new challenges.
      if (!powSolves(c.p, answer.nonce, c.d)) return { ok: false, reason: "bad_solution" };
      return (await deps.redeem(sale.id, c.p, left)) ? { ok: true } : { ok: false, reason: "used" };
    },
  };
}
