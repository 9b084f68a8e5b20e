import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * Small signed tokens: `<kind>.<base64url(JSON claims)>.<base64url(HMAC-SHA256)>`, the HMAC taken
 * over `<kind>.<claims>`. Used for purchase passes and proof-of-work challenges, so both are
 * checked with no I/O. Each kind signs with its own key, derived from the platform secret by
 * HMAC(secret, label) (key separation as in RFC 5869's expand step), so a challenge can never
 * pass for a pass, nor either for the gateway's internal token.
 */
export function deriveKey(secret: string, label: string): Buffer {
  return createHmac("sha256", secret).update(label).digest();
}

export function signToken(key: Buffer, kind: string, claims: object): string {
  const body = `${kind}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}`;
  return `${body}.${createHmac("sha256", key).update(body).digest("base64url")}`;
}

/** The claims of a token of `kind` whose signature is right; null for anything else. */
export function verifyToken(key: Buffer, kind: string, token: string): Record<string, unknown> | null {
  if (token.length > 1024 || !token.startsWith(`${kind}.`)) return null;
  const dot = token.lastIndexOf(".");
  if (dot <= kind.length + 1) return null;
  const body = token.slice(0, dot);
  const given = Buffer.from(token.slice(dot + 1), "base64url");
  const expected = createHmac("sha256", key).update(body).digest();
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  try {
    const claims = JSON.parse(Buffer.from(body.slice(kind.length + 1), "base64url").toString("utf8")) as unknown;
    return claims && typeof claims === "object" ? (claims as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
