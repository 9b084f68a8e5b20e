import type { Redis } from "../../core/redis.js";
import { type ChallengeProvider, createPowChallenges } from "./challenge.js";
import { createPasses, type Passes } from "./pass.js";
import { createWaitingRoom, RATE_TAU_MS, type WaitingRoom } from "./waiting-room.js";

/** What the admission routes share: the waiting room's store, the pass signer and the challenge step. */
export interface Admission {
  room: WaitingRoom;
  passes: Passes;
  challenges: ChallengeProvider;
  rateTauMs: number;
}

/** The default set-up: proof-of-work challenges (swap `challenges` for a quiz or a CAPTCHA). */
export function createAdmission(redis: Redis, prefix: string, jwtSecret: string, opts: { challenges?: ChallengeProvider } = {}): Admission {
  const room = createWaitingRoom(redis, prefix);
  return {
    room,
    passes: createPasses(jwtSecret),
    challenges:
      opts.challenges ??
      createPowChallenges({ secret: jwtSecret, redeem: (saleId, key, ttlMs) => room.redeemChallenge(saleId, key, ttlMs) }),
    rateTauMs: RATE_TAU_MS,
  };
}
