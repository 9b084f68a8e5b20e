import { sign } from "hono/jwt";

/**
 * A user token as the gateway expects it: HS256, `sub` = user id, expiring after `ttlSeconds`,
 * with `iss` / `aud` when the deployment requires them (JWT_ISSUER / JWT_AUDIENCE).
 */
export function signUserToken(
  secret: string,
  userId: string,
  ttlSeconds = 3600,
  claims: { iss?: string; aud?: string } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const extra: { iss?: string; aud?: string } = {};
  if (claims.iss !== undefined) extra.iss = claims.iss;
  if (claims.aud !== undefined) extra.aud = claims.aud;
  return sign({ sub: userId, iat: now, exp: now + ttlSeconds, ...extra }, secret, "HS256");
}
