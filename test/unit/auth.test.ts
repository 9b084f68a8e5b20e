import { createHmac } from "node:crypto";
import { sign } from "hono/jwt";
import { describe, expect, it } from "vitest";
import { createAuthenticator } from "../../apps/gateway/auth.js";

const SECRET = "a-test-secret-that-is-long-enough-000000";
const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
const forge = (header: unknown, payload: unknown, secret = SECRET) => {
  const body = `${b64(header)}.${b64(payload)}`;
  return `${body}.${createHmac("sha256", secret).update(body).digest("base64url")}`;
};

describe("gateway JWT verification", () => {
  it("accepts an HS256 token signed with the secret, as Hono signs it", async () => {
    const auth = createAuthenticator(SECRET);
    expect(await auth(`Bearer ${await sign({ sub: "alice", exp: Math.floor(Date.now() / 1000) + 60 }, SECRET, "HS256")}`)).toBe("alice");
    expect(await auth(`Bearer ${await sign({ sub: "bob" }, SECRET, "HS256")}`)).toBe("bob");
  });

  it("refuses a wrong secret, another alg, alg none, a bad sub, a malformed token or header", async () => {
    const auth = createAuthenticator(SECRET);
    expect(await auth(`Bearer ${forge({ alg: "HS256" }, { sub: "x" }, "another-secret-another-secret-000")}`)).toBeNull();
    expect(await auth(`Bearer ${forge({ alg: "HS512" }, { sub: "x" })}`)).toBeNull();
    expect(await auth(`Bearer ${b64({ alg: "none" })}.${b64({ sub: "x" })}.`)).toBeNull();
    expect(await auth(`Bearer ${forge({ alg: "HS256" }, { sub: "has space" })}`)).toBeNull();
    expect(await auth(`Bearer ${forge({ alg: "HS256" }, { sub: 42 })}`)).toBeNull();
    expect(await auth("Bearer not.a.jwt.at.all")).toBeNull();
    expect(await auth("Bearer abc")).toBeNull();
    expect(await auth("Basic abc")).toBeNull();
    expect(await auth(undefined)).toBeNull();
  });

  it("honours exp and nbf, also for a token it verified before (the cache)", async () => {
    let now = 1000;
    const auth = createAuthenticator(SECRET, { now: () => now });
    const token = `Bearer ${forge({ alg: "HS256" }, { sub: "carol", exp: 1010 })}`;
    expect(await auth(token)).toBe("carol");
    now = 1010;
    expect(await auth(token)).toBeNull();
    expect(await auth(`Bearer ${forge({ alg: "HS256" }, { sub: "dave", nbf: 2000 })}`)).toBeNull();
  });

  it("keeps the cache bounded", async () => {
    const auth = createAuthenticator(SECRET, { cacheSize: 10 });
    for (let i = 0; i < 50; i++) expect(await auth(`Bearer ${forge({ alg: "HS256" }, { sub: `u${i}` })}`)).toBe(`u${i}`);
    // Evicted entries are simply verified again.
    expect(await auth(`Bearer ${forge({ alg: "HS256" }, { sub: "u0" })}`)).toBe("u0");
  });
});
