import { deriveKey, signToken, verifyToken } from "./signed.js";

export type PassCheck = "ok" | "invalid" | "expired";

/**
 * Purchase passes: an HMAC-signed statement "user U may buy in sale S until T". Issued by the
 * API (a solved challenge, or an admission from the waiting room) and checked by the gateway
 * before the token bucket, with no I/O: one HMAC over ~100 bytes. The key is derived from
 * JWT_SECRET, which every gateway and API already shares.
 *
 * Format: `p1.<base64url({"s":saleId,"u":userId,"e":expiresAtMs})>.<base64url(HMAC-SHA256)>`.
 */
export function createPasses(secret: string, now: () => number = Date.now) {
  const key = deriveKey(secret, "seckill purchase pass v1");
  return {
    issue(saleId: string, userId: string, expiresAt: number): string {
      return signToken(key, "p1", { s: saleId, u: userId, e: expiresAt });
    },
    /** `invalid` for a forged pass, or one of another user or sale; `expired` past its time. */
    check(pass: string, saleId: string, userId: string): PassCheck {
      const c = verifyToken(key, "p1", pass);
      if (!c || c.s !== saleId || c.u !== userId || typeof c.e !== "number") return "invalid";
      return c.e > now() ? "ok" : "expired";
    },
  };
}

export type Passes = ReturnType<typeof createPasses>;
