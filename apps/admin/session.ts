import { createHmac, randomBytes } from "node:crypto";
import type { Context } from "hono";
import { generateCookie, getCookie } from "hono/cookie";
import { requestHeader } from "../core/http.js";
import { safeEqual } from "../core/identity.js";

/**
 * The admin console's session cookie: after signing in with the admin token the browser holds
 * `seckill_admin=v2.<generation>.<expiresAtMs>.<nonce>.<hmac>`, signed (HMAC-SHA256) with a key
 * derived from ADMIN_TOKEN (so rotating the token ends every session), HttpOnly (scripts cannot
 * read it), SameSite=Strict (other sites' requests do not carry it) and limited to /admin.
 * `generation` is the deployment's session generation when it was issued and `nonce` 12 random
 * bytes naming this one session; the MAC covers both, so neither can be edited. Whether a
 * genuine cookie is still live (not signed out, generation still current) is for
 * console-sessions.ts to say: it asks Redis.
 *
 * CSRF: SameSite=Strict already keeps the cookie off cross-site requests; on top of that a write
 * authenticated by the cookie must carry an Origin (or Sec-Fetch-Site) saying it came from this
 * very origin (OWASP CSRF cheat sheet, "Verifying origin with standard headers").
 */
export const SESSION_COOKIE = "seckill_admin";
export const SESSION_TTL_MS = 8 * 3600_000;

/** What a genuine, unexpired cookie says. */
export interface SessionClaims {
  /** The session generation it was issued under: a random base64url token (console-sessions.ts). */
  generation: string;
  /** Expiry, ms since the epoch. */
  expiresAt: number;
  /** 16 base64url characters naming this session (what sign-out revokes). */
  nonce: string;
}

function sessionKey(adminToken: string): Buffer {
  return createHmac("sha256", adminToken).update("seckill admin console session").digest();
}

function mac(adminToken: string, payload: string): string {
  return createHmac("sha256", sessionKey(adminToken)).update(payload).digest("base64url");
}

/** A new cookie value for a session of `generation`, expiring SESSION_TTL_MS after `now` (ms). */
export function issueSession(
  adminToken: string,
  generation: string,
  now = Date.now(),
): { value: string; expiresAt: number; nonce: string } {
  const expiresAt = now + SESSION_TTL_MS;
  const nonce = randomBytes(12).toString("base64url");
  const payload = `v2.${generation}.${expiresAt}.${nonce}`;
  return { value: `${payload}.${mac(adminToken, payload)}`, expiresAt, nonce };
}

/** The cookie's claims when its value is genuine (our MAC) and unexpired, else null. Pure: no Redis. */
export function verifySession(adminToken: string, value: string | undefined, now = Date.now()): SessionClaims | null {
  if (!value) return null;
  const parts = value.split(".");
  if (parts.length !== 5 || parts[0] !== "v2") return null;
  if (!safeEqual(parts[4], mac(adminToken, parts.slice(0, 4).join(".")))) return null;
  const generation = parts[1];
  const expiresAt = Number(parts[2]);
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(generation) || !Number.isFinite(expiresAt) || expiresAt <= now) return null;
  return { generation, expiresAt, nonce: parts[3] };
}

/** The claims of the request's session cookie (verifySession); null without a genuine one. */
export function sessionClaimsOf(c: Context, adminToken: string): SessionClaims | null {
  return verifySession(adminToken, getCookie(c, SESSION_COOKIE));
}

/** The request's own origin as the browser would write it (scheme from X-Forwarded-Proto behind a proxy). */
function ownOrigin(c: Context): string {
  const url = new URL(c.req.url);
  const proto = requestHeader(c, "x-forwarded-proto")?.split(",")[0].trim() || url.protocol.replace(":", "");
  const host = requestHeader(c, "x-forwarded-host") ?? requestHeader(c, "host") ?? url.host;
  return `${proto}://${host}`;
}

/** True when a cookie-authenticated write came from the console's own origin. */
export function sameOrigin(c: Context): boolean {
  const origin = requestHeader(c, "origin");
  if (origin) return origin === ownOrigin(c);
  // Browsers that omit Origin still send Fetch Metadata; without either, refuse.
  return requestHeader(c, "sec-fetch-site") === "same-origin";
}

/** The Set-Cookie header value that starts a session (answers are built with respond.ts's json(), so callers add it). */
export function sessionCookie(c: Context, value: string): string {
  return generateCookie(SESSION_COOKIE, value, {
    httpOnly: true,
    sameSite: "Strict",
    path: "/admin",
    maxAge: Math.floor(SESSION_TTL_MS / 1000),
    secure: ownOrigin(c).startsWith("https:"),
  });
}

/** The Set-Cookie header value that ends the session. */
export function clearedSessionCookie(c: Context): string {
  return generateCookie(SESSION_COOKIE, "", {
    httpOnly: true,
    sameSite: "Strict",
    path: "/admin",
    maxAge: 0,
    secure: ownOrigin(c).startsWith("https:"),
  });
}
