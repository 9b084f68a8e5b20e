import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * How the gateway tells the API who the user is, in both layouts (in-process call or HTTP): the
 * gateway verifies the JWT once and passes the user id in USER_HEADER, vouched for by
 * INTERNAL_HEADER, a token derived from JWT_SECRET. The API trusts the user header only with
 * that token, so a client cannot reach the API directly and claim to be someone else.
 */
export const USER_HEADER = "x-seckill-user";
export const INTERNAL_HEADER = "x-seckill-internal";
/**
 * The user id when it is not printable ASCII (`José`, `张三`): percent-encoded UTF-8. An HTTP
 * header value is bytes, not text: undici refuses characters above U+00FF and would send the rest
 * as Latin-1, so such an id would not reach a separate API byte for byte. Printable ASCII ids
 * (nearly all: ULIDs, UUIDs, `auth0|...`) keep the plain header, which every API version reads.
 */
export const USER_UTF8_HEADER = "x-seckill-user-utf8";

const PRINTABLE_ASCII = /^[\x21-\x7e]+$/;

/** Sets the header that carries `userId` from the gateway to the API (see USER_UTF8_HEADER). */
export function setUserHeader(headers: Record<string, string>, userId: string): void {
  if (PRINTABLE_ASCII.test(userId)) headers[USER_HEADER] = userId;
  else headers[USER_UTF8_HEADER] = encodeURIComponent(userId);
}

/** The user id the gateway passed (either header); undefined when absent or not valid percent-encoding. */
export function userFromHeaders(plain: string | undefined, utf8: string | undefined): string | undefined {
  if (plain !== undefined) return plain;
  if (utf8 === undefined) return undefined;
  try {
    return decodeURIComponent(utf8);
  } catch {
    return undefined;
  }
}

export function internalToken(jwtSecret: string): string {
  return createHmac("sha256", jwtSecret).update("seckill gateway -> api").digest("hex");
}

export function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

/** The token of `Authorization: Bearer <token>`; the scheme is case-insensitive (RFC 7235 §2.1). */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined || header.length < 8 || header.charCodeAt(6) !== 32) return undefined;
  if (header.slice(0, 6).toLowerCase() !== "bearer") return undefined;
  const token = header.slice(7).trim();
  return token === "" ? undefined : token;
}

/** True when `Authorization` carries exactly this token (compared in constant time). */
export function carriesToken(header: string | undefined, expected: string): boolean {
  const token = bearerToken(header);
  return token !== undefined && safeEqual(token, expected);
}
