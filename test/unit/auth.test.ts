import { createHmac } from "node:crypto";
import { sign } from "hono/jwt";
import { describe, expect, it } from "vitest";
import { bearerToken } from "../../apps/core/identity.js";
import { createAuthenticator } from "../../apps/gateway/auth.js";

const SECRET = "a-test-secret-that-is-long-enough-000000";
const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
const forge = (header: unknown, payload: unknown, secret = SECRET) => {
  const body = `${b64(header)}.${b64(payload)}`;
  return `${body}.${createHmac("sha256", secret).update(body).digest("base64url")}`;
};
const NOW = 1_000_000;
const hs = (payload: Record<string, unknown>) => `Bearer ${forge({ alg: "HS256" }, { exp: NOW + 600, ...payload })}`;

describe("gateway JWT verification", () => {
  it("accepts an HS256 token signed with the secret, as Hono signs it", async () => {
    const auth = createAuthenticator({ secret: SECRET });
    expect(await auth(`Bearer ${await sign({ sub: "alice", exp: Math.floor(Date.now() / 1000) + 60 }, SECRET, "HS256")}`)).toBe("alice");
  });

  it("takes the Authorization scheme in any case, as RFC 7235 says", async () => {
    const auth = createAuthenticator({ secret: SECRET, now: () => NOW });
    const token = forge({ alg: "HS256" }, { sub: "alice", exp: NOW + 60 });
    for (const scheme of ["Bearer", "bearer", "BEARER", "bEaReR"]) expect(await auth(`${scheme} ${token}`)).toBe("alice");
    expect(bearerToken("Basic abc")).toBeUndefined();
    expect(bearerToken("Bearer ")).toBeUndefined();
    expect(bearerToken("Bearerabc")).toBeUndefined();
  });

  it("refuses a wrong secret, another alg, alg none, a bad sub, a malformed token or header", async () => {
    const auth = createAuthenticator({ secret: SECRET, now: () => NOW });
    expect(await auth(`Bearer ${forge({ alg: "HS256" }, { sub: "x", exp: NOW + 60 }, "another-secret-another-secret-000")}`)).toBeNull();
    expect(await auth(`Bearer ${forge({ alg: "HS512" }, { sub: "x", exp: NOW + 60 })}`)).toBeNull();
    expect(await auth(`Bearer ${b64({ alg: "none" })}.${b64({ sub: "x", exp: NOW + 60 })}.`)).toBeNull();
    expect(await auth(hs({ sub: "has space" }))).toBeNull();
    expect(await auth(hs({ sub: 42 }))).toBeNull();
    expect(await auth("Bearer not.a.jwt.at.all")).toBeNull();
    expect(await auth("Bearer abc")).toBeNull();
    expect(await auth("Basic abc")).toBeNull();
    expect(await auth(undefined)).toBeNull();
  });

  it("refuses a token without exp, and exp, nbf or iat that are not numbers", async () => {
    const auth = createAuthenticator({ secret: SECRET, now: () => NOW });
    expect(await auth(`Bearer ${forge({ alg: "HS256" }, { sub: "bob" })}`)).toBeNull();
    expect(await auth(`Bearer ${await sign({ sub: "bob" }, SECRET, "HS256")}`)).toBeNull();
    expect(await auth(hs({ sub: "bob", exp: String(NOW + 600) }))).toBeNull();
    expect(await auth(hs({ sub: "bob", nbf: "0" }))).toBeNull();
    expect(await auth(hs({ sub: "bob", iat: "yesterday" }))).toBeNull();
    expect(await auth(hs({ sub: "bob", nbf: NOW - 10, iat: NOW - 10 }))).toBe("bob");
  });

  it("honours exp, nbf and iat with the clock tolerance, also for a token it verified before (the cache)", async () => {
    let now = NOW;
    const auth = createAuthenticator({ secret: SECRET, now: () => now, clockToleranceSec: 30 });
    const token = `Bearer ${forge({ alg: "HS256" }, { sub: "carol", exp: NOW + 10 })}`;
    expect(await auth(token)).toBe("carol");
    now = NOW + 39; // within the 30 s tolerance past exp
    expect(await auth(token)).toBe("carol");
    now = NOW + 40;
    expect(await auth(token)).toBeNull();
    now = NOW;
    expect(await auth(hs({ sub: "dave", nbf: NOW + 29 }))).toBe("dave");
    expect(await auth(hs({ sub: "dave", nbf: NOW + 31 }))).toBeNull();
    expect(await auth(hs({ sub: "erin", iat: NOW + 29 }))).toBe("erin");
    expect(await auth(hs({ sub: "erin", iat: NOW + 31 }))).toBeNull();
  });

  it("checks iss and aud when configured", async () => {
    const auth = createAuthenticator({ secret: SECRET, now: () => NOW, issuer: "https://idp.example", audience: "seckill" });
    expect(await auth(hs({ sub: "f", iss: "https://idp.example", aud: "seckill" }))).toBe("f");
    expect(await auth(hs({ sub: "g", iss: "https://idp.example", aud: ["other", "seckill"] }))).toBe("g");
    expect(await auth(hs({ sub: "h", iss: "https://evil.example", aud: "seckill" }))).toBeNull();
    expect(await auth(hs({ sub: "i", iss: "https://idp.example", aud: "other" }))).toBeNull();
    expect(await auth(hs({ sub: "j", aud: "seckill" }))).toBeNull();
    expect(await auth(hs({ sub: "k", iss: "https://idp.example" }))).toBeNull();
  });

  it("keeps the cache bounded", async () => {
    const auth = createAuthenticator({ secret: SECRET, now: () => NOW, cacheSize: 10 });
    for (let i = 0; i < 50; i++) expect(await auth(hs({ sub: `u${i}` }))).toBe(`u${i}`);
    // Evicted entries are simply verified again.
    expect(await auth(hs({ sub: "u0" }))).toBe("u0");
  });
});
