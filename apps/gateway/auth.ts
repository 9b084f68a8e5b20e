import { createHmac, timingSafeEqual } from "node:crypto";
import { compactVerify, createRemoteJWKSet, errors as joseErrors } from "jose";
import { bearerToken } from "../core/identity.js";
import type { Logger } from "../core/logger.js";
import { isUserId } from "../domain/order-message.js";

interface Verified {
  sub: string;
  /** seconds since the epoch */
  exp: number;
}

export interface AuthOptions {
  /** HS256 key of user tokens (the default way). */
  secret: string;
  /** Set: user tokens are RS256/ES256 from this key set instead (HS256 is then refused). */
  jwksUrl?: string;
  /** Set: `iss` must be exactly this. */
  issuer?: string;
  /** Set: `aud` must be this, or an array containing it. */
  audience?: string;
  /** Clock skew allowed on exp, nbf and iat, in seconds (default 30). */
  clockToleranceSec?: number;
  cacheSize?: number;
  /** Seconds since the epoch (tests move the clock). */
  now?: () => number;
  logger?: Logger;
  /** How often the key set is fetched again in the background, in ms (default 10 min). */
  jwksRefreshMs?: number;
  /** After a fetch, tokens with an unknown `kid` trigger no other fetch for this long, in ms (default 30 s). */
  jwksCooldownMs?: number;
}

const ASYMMETRIC = ["RS256", "ES256"];

/**
 * Verifies a user's `Authorization: Bearer <JWT>` and returns the user id (`sub`), or null.
 *
 * Claims (RFC 7519 §4.1), the same on both paths: `exp` is required; `exp`, `nbf` and `iat`
 * must be numbers when present, and are honoured with `clockToleranceSec` of skew (a token
 * issued in the future is refused too); `iss` and `aud` must match when configured; `sub` must
 * be a valid user id.
 *
 * Signatures:
 * - HS256 with `secret` (default): checked here with one HMAC in constant time, any other `alg`
 *   refused. Not hono/jwt or jose for this path: they go through WebCrypto and import the key on
 *   every call, which made authentication the most expensive step of the gateway's cheapest
 *   answers (410 from memory).
 * - RS256/ES256 from an identity provider's key set (`jwksUrl`): jose verifies the signature
 *   against a cached key set (jose's createRemoteJWKSet). The set is fetched at start, again in
 *   the background every `jwksRefreshMs`, and on a token whose `kid` it does not know (at most
 *   once per 30 s); a token with a known key never waits for a fetch.
 *
 * Either way a bounded cache of verified tokens means a user hammering the button costs one
 * verification, not one per request (expiry is still checked on every use).
 */
export function createAuthenticator(opts: AuthOptions) {
  const key = Buffer.from(opts.secret);
  const cacheSize = opts.cacheSize ?? 50_000;
  const now = opts.now ?? (() => Date.now() / 1000);
  const leeway = opts.clockToleranceSec ?? 30;
  const cache = new Map<string, Verified>();
  const jwks = opts.jwksUrl
    ? createRemoteJWKSet(new URL(opts.jwksUrl), {
        // Never stale by age (that would make a request wait for a fetch): the background timer
        // and unknown kids refresh it.
        cacheMaxAge: Number.POSITIVE_INFINITY,
        cooldownDuration: opts.jwksCooldownMs ?? 30_000,
        timeoutDuration: 3000,
      })
    : undefined;
  let refresher: NodeJS.Timeout | undefined;

  function decodeSegment(segment: string): Record<string, unknown> | null {
    const value: unknown = JSON.parse(Buffer.from(segment, "base64url").toString("utf8"));
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  }

  /** The claims every user token must satisfy; null when they do not. */
  function checkClaims(payload: Record<string, unknown> | null): Verified | null {
    if (!payload) return null;
    const { sub, exp, nbf, iat, iss, aud } = payload;
    if (!isUserId(sub)) return null;
    if (typeof exp !== "number" || !Number.isFinite(exp)) return null;
    const t = now();
    if (exp + leeway <= t) return null;
    if (nbf !== undefined && (typeof nbf !== "number" || nbf - leeway > t)) return null;
    if (iat !== undefined && (typeof iat !== "number" || iat - leeway > t)) return null;
    if (opts.issuer !== undefined && iss !== opts.issuer) return null;
    if (opts.audience !== undefined && !(aud === opts.audience || (Array.isArray(aud) && aud.includes(opts.audience)))) return null;
    return { sub, exp };
  }

  function verifyHs256(token: string): Verified | null {
    const dot1 = token.indexOf(".");
    const dot2 = token.indexOf(".", dot1 + 1);
    if (dot1 < 1 || dot2 < 0 || token.indexOf(".", dot2 + 1) !== -1) return null;
    const signed = token.slice(0, dot2);
    const given = Buffer.from(token.slice(dot2 + 1), "base64url");
    const expected = createHmac("sha256", key).update(signed).digest();
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
    try {
      if (decodeSegment(token.slice(0, dot1))?.alg !== "HS256") return null;
      return checkClaims(decodeSegment(token.slice(dot1 + 1, dot2)));
    } catch {
      return null;
    }
  }

  async function verifyFromKeySet(token: string): Promise<Verified | null> {
    try {
      const { payload } = await compactVerify(token, jwks!, { algorithms: ASYMMETRIC });
      return checkClaims(JSON.parse(new TextDecoder().decode(payload)) as Record<string, unknown>);
    } catch (err) {
      if (err instanceof joseErrors.JWKSTimeout || (err instanceof joseErrors.JOSEError && /JSON Web Key Set/.test(err.message))) {
        opts.logger?.warn(
          { err, jwksUrl: opts.jwksUrl },
          "could not fetch the identity provider's key set; tokens with unknown keys get 401",
        );
      }
      return null;
    }
  }

  async function authenticate(header: string | undefined): Promise<string | null> {
    const token = bearerToken(header);
    if (token === undefined) return null;
    let v = cache.get(token);
    if (!v) {
      const fresh = jwks ? await verifyFromKeySet(token) : verifyHs256(token);
      if (!fresh) return null;
      if (cache.size >= cacheSize) cache.delete(cache.keys().next().value as string);
      cache.set(token, fresh);
      v = fresh;
    }
    if (v.exp + leeway <= now()) {
      cache.delete(token);
      return null;
    }
    return v.sub;
  }

  return Object.assign(authenticate, {
    /** Fetches the key set once (when there is one) and keeps it fresh in the background. */
    async start(): Promise<void> {
      if (!jwks || refresher) return;
      const reload = () =>
        jwks
          .reload()
          .catch((err: unknown) =>
            opts.logger?.warn({ err, jwksUrl: opts.jwksUrl }, "identity provider key set refresh failed; keeping the keys we have"),
          );
      refresher = setInterval(reload, opts.jwksRefreshMs ?? 600_000);
      refresher.unref();
      await reload();
    },
    stop(): void {
      if (refresher) clearInterval(refresher);
      refresher = undefined;
    },
  });
}

export type Authenticate = ReturnType<typeof createAuthenticator>;

/** The authenticator a config asks for. */
export function authenticatorFromConfig(
  config: {
    JWT_SECRET: string;
    JWT_JWKS_URL?: string;
    JWT_ISSUER?: string;
    JWT_AUDIENCE?: string;
    JWT_CLOCK_TOLERANCE_SECONDS: number;
  },
  logger?: Logger,
): Authenticate {
  return createAuthenticator({
    secret: config.JWT_SECRET,
    jwksUrl: config.JWT_JWKS_URL,
    issuer: config.JWT_ISSUER,
    audience: config.JWT_AUDIENCE,
    clockToleranceSec: config.JWT_CLOCK_TOLERANCE_SECONDS,
    logger,
  });
}
