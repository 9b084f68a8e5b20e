import { createHmac } from "node:crypto";

const b64url = (b: Buffer | string) => Buffer.from(b).toString("base64url");
const HEADER = b64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));

/**
 * Pre-signs user tokens for load generation (HS256, sub = `${prefix}-${i}`), fast enough for
 * hundreds of thousands: the signing must not be what the benchmark measures.
 */
export function signTokens(secret: string, prefix: string, count: number, ttlSeconds = 6 * 3600): string[] {
  const exp = Math.floor(Date.now() / 1000) + ttlSeconds;
  const out = new Array<string>(count);
  for (let i = 0; i < count; i++) {
    const body = `${HEADER}.${b64url(JSON.stringify({ sub: `${prefix}-${i}`, exp }))}`;
    out[i] = `${body}.${createHmac("sha256", secret).update(body).digest("base64url")}`;
  }
  return out;
}
