import { parseArgs } from "node:util";
import { DEV_SECRETS, type Env } from "../core/config.js";
import { isUserId } from "../domain/order-message.js";

export const USAGE = "usage: npm run token -- <userId> [--ttl 1h]   (ttl: 90s, 30m, 1h, 2d or seconds; default 1h)";

/** What `npm run token` signs: HS256 with `secret`, `sub` = userId, expiring after ttlSeconds. */
export interface TokenRequest {
  userId: string;
  ttlSeconds: number;
  secret: string;
  /** True when the secret is the development default (printed as a warning). */
  devSecret: boolean;
  /** `iss` / `aud` claims the gateway requires (JWT_ISSUER / JWT_AUDIENCE), when set. */
  claims: { iss?: string; aud?: string };
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** Parses "90s", "30m", "1h", "2d" or a plain number of seconds; null when malformed or not positive. */
export function parseTtl(text: string): number | null {
  const m = /^(\d+)([smhd]?)$/.exec(text.trim());
  if (!m) return null;
  const seconds = Number(m[1]) * UNIT_SECONDS[m[2] || "s"];
  return seconds > 0 && Number.isSafeInteger(seconds) ? seconds : null;
}

/**
 * Reads the command line and environment of `npm run token`. The secret is JWT_SECRET from the
 * environment, else the development default; with NODE_ENV=production only an explicitly set
 * JWT_SECRET is used (a token signed with the dev default would be refused there anyway, and the
 * tool must not make it easy to mint tokens for a real deployment by accident).
 * Returns the request, or an error message meant for stderr.
 */
export function readTokenRequest(argv: string[], env: Env): TokenRequest | { error: string } {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    return { error: `${(err as Error).message}\n${USAGE}` };
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1) return { error: USAGE };
  const userId = positionals[0];
  if (!isUserId(userId)) {
    return {
      error: `user id ${JSON.stringify(userId)} is not valid: 1-64 bytes of visible characters, no spaces or control characters (the gateway refuses others)`,
    };
  }
  const ttlSeconds = parseTtl(values.ttl);
  if (ttlSeconds === null) return { error: `--ttl ${JSON.stringify(values.ttl)} is not a duration\n${USAGE}` };

  if (env.JWT_JWKS_URL?.trim()) {
    return {
      error: "JWT_JWKS_URL is set: this deployment takes user tokens from its identity provider and refuses HS256 ones; get a token there",
    };
  }
  const given = env.JWT_SECRET?.trim() ? env.JWT_SECRET : undefined;
  if (env.NODE_ENV === "production" && (given === undefined || given === DEV_SECRETS.JWT_SECRET)) {
    return { error: "NODE_ENV=production: set JWT_SECRET to the deployment's secret explicitly; the development default is refused there" };
  }
  const secret = given ?? DEV_SECRETS.JWT_SECRET;
  if (secret.length < 32) return { error: "JWT_SECRET must be at least 32 characters (as the gateway requires)" };
  const claims: TokenRequest["claims"] = {};
  if (env.JWT_ISSUER?.trim()) claims.iss = env.JWT_ISSUER;
  if (env.JWT_AUDIENCE?.trim()) claims.aud = env.JWT_AUDIENCE;
  return { userId, ttlSeconds, secret, devSecret: secret === DEV_SECRETS.JWT_SECRET, claims };
}

function parse(argv: string[]) {
  return parseArgs({ args: argv, allowPositionals: true, options: { ttl: { type: "string", default: "1h" } } });
}
