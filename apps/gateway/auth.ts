import { verify } from "hono/jwt";
import { USER_ID_PATTERN } from "../core/order-message.js";

/**
 * Verifies a user's `Authorization: Bearer <JWT>` (HS256, `sub` = user id, `exp` honoured when
 * present). Returns the user id, or null for a missing, malformed, expired or forged token.
 */
export function createAuthenticator(secret: string) {
  return async function authenticate(header: string | undefined): Promise<string | null> {
    if (!header?.startsWith("Bearer ")) return null;
    try {
      const payload = await verify(header.slice(7), secret, "HS256");
      const sub = payload.sub;
      return typeof sub === "string" && USER_ID_PATTERN.test(sub) ? sub : null;
    } catch {
      return null;
    }
  };
}

export type Authenticate = ReturnType<typeof createAuthenticator>;
