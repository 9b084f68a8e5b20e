import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * How the gateway tells the API who the user is, in both layouts (in-process call or HTTP): the
 * gateway verifies the JWT once and passes the user id in USER_HEADER, vouched for by
 * INTERNAL_HEADER, a token derived from JWT_SECRET. The API trusts the user header only with
 * that token, so a client cannot reach the API directly and claim to be someone else.
 */
export const USER_HEADER = "x-seckill-user";
export const INTERNAL_HEADER = "x-seckill-internal";

export function internalToken(jwtSecret: string): string {
  return createHmac("sha256", jwtSecret).update("seckill gateway -> api").digest("hex");
}

export function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}
