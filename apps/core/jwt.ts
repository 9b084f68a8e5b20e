import { sign } from "hono/jwt";

/** A user token as the gateway expects it: HS256, `sub` = user id, expiring after `ttlSeconds`. */
export function signUserToken(secret: string, userId: string, ttlSeconds = 3600): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return sign({ sub: userId, iat: now, exp: now + ttlSeconds }, secret, "HS256");
}
