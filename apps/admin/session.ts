import { createHmac, randomBytes } from "node:crypto";
import type { Context } from "hono";
import { generateCookie, getCookie } from "hono/cookie";
import { requestHeader } from "../core/http.js";
import { safeEqual } from "../core/identity.js";

/**
 * The admin console's session: after signing in with the admin token the browser holds a
 * cookie `v1.<expiresAtMs>.<nonce>.<hmac>`, signed with a key derived from ADMIN_TOKEN (so
 * rotating the token ends every session), HttpOnly (scripts cannot read it), SameSite=Strict
 * (other sites' requests do not carry it) and limited to /admin.
 *
 * CSRF: SameSite=Strict already keeps the cookie off cross-site requests; on top of that a write
 * authenticated by the cookie must carry an Origin (or Sec-Fetch-Site) saying it came from this
 * very origin (OWASP CSRF cheat sheet, "Verifying origin with standard headers").
 */
export const SESSION_COOKIE = "seckill_admin";
export const SESSION_TTL_MS = 8 * 3600_000;

function sessionKey(adminToken: string): Buffer {
  return createHmac("sha256", adminToken).update("seckill admin console session").digest();
}

function mac(adminToken: string, payload: string): string {
  return createHmac("sha256", sessionKey(adminToken)).update(payload).digest("base64url");
}

export function issueSession(adminToken: string, now = Date.now()): { value: string; expiresAt: number } {
  const expiresAt = now + SESSION_TTL_MS;
  const payload = `v1.${expiresAt}.${randomBytes(12).toString("base64url")}`;
  return { value: `${payload}.${mac(adminToken, payload)}`, expiresAt };
}

/** The session's expiry (ms) when the cookie value is genuine and unexpired, else null. */
export function verifySession(adminToken: string, value: string | undefined, now = Date.now()): number | null {
  if (!value) return null;
  const parts = value.split(".");
  if (parts.length !== 4 || parts[0] !== "v1") return null;
  const payload = parts.slice(0, 3).join(".");
  if (!safeEqual(parts[3], mac(adminToken, payload))) return null;
  const expiresAt = Number(parts[1]);
  return Number.isFinite(expiresAt) && expiresAt > now ? expiresAt : null;
}

export function sessionOf(c: Context, adminToken: string): number | null {
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
