import { createHash, randomBytes } from "node:crypto";

/**
 * The pre-start shuffle, committed in advance. Each queue sale gets 32 random bytes at creation
 * (hex, `queueSeed`); while the sale is upcoming only SHA-256(seed) is public
 * (`queueSeedCommitment`), and at the start the seed itself is shown. Users who joined before
 * the start are admitted in ascending order of SHA-256(seed ":" userId), taking its first 52 bits
 * as the fraction below (ties, about one in 2^52, by user id, bytewise: Redis's own order), so
 * anyone holding the seed and a list of early joiners can recompute the order, and nobody can
 * steer it without the seed, which the platform fixed before anyone joined.
 */
export function newQueueSeed(): string {
  return randomBytes(32).toString("hex");
}

export function seedCommitment(seed: string): string {
  return createHash("sha256").update(seed).digest("hex");
}

/** The user's place score among early joiners: a fraction in [0, 1), exact in a double. */
export function shuffleScore(seed: string, userId: string): number {
  const hex = createHash("sha256").update(`${seed}:${userId}`).digest("hex");
  return Number.parseInt(hex.slice(0, 13), 16) / 2 ** 52;
}
