import { randomBytes } from "node:crypto";
import { createServer } from "node:net";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { requireAdmin } from "../../apps/admin/auth.js";
import { createConsoleSessions } from "../../apps/admin/console-sessions.js";
import { issueSession, SESSION_COOKIE, SESSION_TTL_MS } from "../../apps/admin/session.js";
import { createSignInLimiter, SIGN_IN_FAILURES, SIGN_IN_WINDOW_S } from "../../apps/admin/sign-in-limiter.js";
import { AppError, errorHandler } from "../../apps/core/errors.js";
import type { AppEnv } from "../../apps/core/http.js";
import { createLogger } from "../../apps/core/logger.js";
import { createRedis, deleteByPrefix } from "../../apps/core/redis.js";
import { globalKeys } from "../../apps/domain/keys.js";
import { randomId } from "../helpers/env.js";
import { startTestPlatform, type TestPlatform } from "../helpers/platform.js";

let p: TestPlatform;
beforeAll(async () => {
  // One trusted proxy: the last X-Forwarded-For entry is the client, so each test can be its own IP.
  p = await startTestPlatform({ env: { TRUSTED_PROXY_HOPS: "1" } });
});
afterAll(async () => {
  await deleteByPrefix(p.services.redis, p.services.config.REDIS_KEY_PREFIX); // this platform's own keys only
  await p.stop();
});

const ORIGIN = "http://localhost"; // app.request's own origin
const req = (path: string, init: RequestInit = {}) => Promise.resolve(p.gateway.app.request(path, init));
const bearer = () => ({ authorization: `Bearer ${p.services.config.ADMIN_TOKEN}` });
/**
 * X-Forwarded-For of a client of this test's own (an RFC 3849 documentation address), as our one
 * trusted proxy appends it after whatever the client wrote itself (ignored, the same for all).
 */
const newIp = () => `6.6.6.6, ${newNet()}::1`;
/** A /64 of this test's own (RFC 3849 documentation space): the prefix one IPv6 client holds. */
const newNet = () => `2001:db8:${randomBytes(4).toString("hex").match(/.{4}/g)!.join(":")}`;
const codeOf = async (res: Response) => ((await res.json()) as { error: { code: string } }).error.code;

function signInAs(token: string, ip = newIp()) {
  return req("/admin/session", {
    method: "POST",
    headers: { origin: ORIGIN, "content-type": "application/json", "x-forwarded-for": ip },
    body: JSON.stringify({ token }),
  });
}

async function signIn(): Promise<string> {
  const res = await signInAs(p.services.config.ADMIN_TOKEN);
  expect(res.status).toBe(200);
  return res.headers.get("set-cookie")!.split(";")[0];
}

const signedIn = async (cookie: string) => (await req("/admin/sales", { headers: { cookie } })).status;

describe("ending console sessions on the server", () => {
  it("a signed-out cookie is refused afterwards, even by a browser that kept a copy", async () => {
    const cookie = await signIn();
    expect(await signedIn(cookie)).toBe(200);
    const out = await req("/admin/session", { method: "DELETE", headers: { cookie, origin: ORIGIN } });
    expect(out.status).toBe(200);
    expect(out.headers.get("set-cookie")).toMatch(/^seckill_admin=; Max-Age=0;/);
    expect(await signedIn(cookie)).toBe(401);
    expect(await (await req("/admin/session", { headers: { cookie } })).json()).toEqual({ signedIn: false, expiresAt: null });
    // The revocation lasts as long as the cookie would have, no longer.
    const nonce = cookie.split(".")[3];
    const ttl = await p.services.redis.pttl(`${globalKeys(p.services.config.REDIS_KEY_PREFIX).adminSessions}:revoked:${nonce}`);
    expect(ttl).toBeGreaterThan(SESSION_TTL_MS - 60_000);
    expect(ttl).toBeLessThanOrEqual(SESSION_TTL_MS);
  });

  it("signing out one session leaves the others signed in", async () => {
    const [a, b] = [await signIn(), await signIn()];
    await req("/admin/session", { method: "DELETE", headers: { cookie: a, origin: ORIGIN } });
    expect([await signedIn(a), await signedIn(b)]).toEqual([401, 200]);
  });

  it("signing out everywhere with the admin token ends every session; the token keeps working and a new sign-in works", async () => {
    const [a, b] = [await signIn(), await signIn()];
    expect([await signedIn(a), await signedIn(b)]).toEqual([200, 200]);
    const all = await req("/admin/session?all=true", { method: "DELETE", headers: bearer() });
    expect(all.status).toBe(200);
    expect([await signedIn(a), await signedIn(b)]).toEqual([401, 401]);
    expect((await req("/admin/sales", { headers: bearer() })).status).toBe(200);
    expect(await signedIn(await signIn())).toBe(200);
  });

  it("Redis losing the sessions' keys (a restart without persistence) ends every session: a signed-out cookie never comes back", async () => {
    const base = globalKeys(p.services.config.REDIS_KEY_PREFIX).adminSessions;
    const lose = () => deleteByPrefix(p.services.redis, base); // only this test platform's keys
    await lose();
    const [a, b] = [await signIn(), await signIn()];
    await req("/admin/session", { method: "DELETE", headers: { cookie: a, origin: ORIGIN } });
    expect((await req("/admin/session?all=true", { method: "DELETE", headers: bearer() })).status).toBe(200);
    expect([await signedIn(a), await signedIn(b)]).toEqual([401, 401]);
    await lose();
    expect([await signedIn(a), await signedIn(b)]).toEqual([401, 401]);
    const c = await signIn();
    expect([await signedIn(a), await signedIn(b), await signedIn(c)]).toEqual([401, 401, 200]);
  });

  it("a console session can sign out everywhere too; without the token or a session that is 401 and nothing ends", async () => {
    const [a, b] = [await signIn(), await signIn()];
    const anonymous = await req("/admin/session?all=true", { method: "DELETE", headers: { origin: ORIGIN } });
    expect(anonymous.status).toBe(401);
    const wrongToken = await req("/admin/session?all=true", {
      method: "DELETE",
      headers: { authorization: "Bearer nope", origin: ORIGIN },
    });
    expect(wrongToken.status).toBe(401);
    const bad = await req("/admin/session?all=yes", { method: "DELETE", headers: { cookie: a, origin: ORIGIN } });
    expect(bad.status).toBe(400);
    expect(await codeOf(bad)).toBe("invalid_request");
    const foreign = await req("/admin/session?all=true", { method: "DELETE", headers: { cookie: a, origin: "https://evil.example" } });
    expect(foreign.status).toBe(403);
    expect([await signedIn(a), await signedIn(b)]).toEqual([200, 200]);
    expect((await req("/admin/session?all=true", { method: "DELETE", headers: { cookie: a, origin: ORIGIN } })).status).toBe(200);
    expect([await signedIn(a), await signedIn(b)]).toEqual([401, 401]);
  });
});

describe("the sign-in attempt limit", () => {
  it(`the ${SIGN_IN_FAILURES + 1}th failed sign-in from one IP gets 429 with Retry-After, so does the right token from it, and another IP still signs in`, async () => {
    const ip = newIp();
    const client = ip.split(",")[1].trim();
    const warn = vi.spyOn(p.services.logger, "warn");
    try {
      for (let i = 0; i < SIGN_IN_FAILURES; i++) expect((await signInAs(`guess-${i}`, ip)).status).toBe(401);
      const blocked = await signInAs("guess-last", ip);
      expect(blocked.status).toBe(429);
      expect(await codeOf(blocked)).toBe("rate_limited");
      const retryAfter = Number(blocked.headers.get("retry-after"));
      expect(retryAfter).toBeGreaterThan(SIGN_IN_WINDOW_S - 60);
      expect(retryAfter).toBeLessThanOrEqual(SIGN_IN_WINDOW_S);
      const right = await signInAs(p.services.config.ADMIN_TOKEN, ip);
      expect(right.status).toBe(429);
      expect(right.headers.get("set-cookie")).toBeNull();
      // The warnings name the client's address and never the attempted token.
      const lines = JSON.stringify(warn.mock.calls);
      expect(lines).toContain(client);
      expect(lines).not.toContain("guess-");
      expect(lines).not.toContain(p.services.config.ADMIN_TOKEN);
    } finally {
      warn.mockRestore();
    }
    expect((await signInAs(p.services.config.ADMIN_TOKEN, newIp())).status).toBe(200);
  });

  it("only failures count: right tokens in between do not use up the IP's attempts", async () => {
    const ip = newIp();
    for (let i = 0; i < SIGN_IN_FAILURES - 1; i++) expect((await signInAs(`guess-${i}`, ip)).status).toBe(401);
    for (let i = 0; i < 3; i++) expect((await signInAs(p.services.config.ADMIN_TOKEN, ip)).status).toBe(200);
    expect((await signInAs("guess-last", ip)).status).toBe(401);
    expect((await signInAs(p.services.config.ADMIN_TOKEN, ip)).status).toBe(429);
  });

  it("an IPv6 client counts by its /64: rotating addresses within it (and writing them in other forms) gets 429 all the same", async () => {
    const net = newNet();
    const forms = (i: number) => [`${net}::${i + 1}`, `${net}:0:0:${i.toString(16)}:1`, `[${net}::${i + 2}]:4433`][i % 3];
    for (let i = 0; i < SIGN_IN_FAILURES; i++) expect((await signInAs(`guess-${i}`, `6.6.6.6, ${forms(i)}`)).status).toBe(401);
    expect((await signInAs("guess-last", `6.6.6.6, ${net}:ffff:ffff:ffff:ffff`)).status).toBe(429);
    expect((await signInAs("guess-mapped", "6.6.6.6, ::ffff:198.51.100.7")).status).toBe(401); // IPv4 keeps its own address
    expect((await signInAs(p.services.config.ADMIN_TOKEN, newIp())).status).toBe(200);
  });

  it("parallel guesses from one IP get no more than the limit of token comparisons", async () => {
    const ip = newIp();
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => signInAs(`guess-${i}`, ip)));
    const statuses = answers.map((r) => r.status);
    expect(statuses.filter((s) => s === 401)).toHaveLength(SIGN_IN_FAILURES);
    expect(statuses.filter((s) => s === 429)).toHaveLength(40 - SIGN_IN_FAILURES);
  });
});

describe("without Redis", () => {
  it("a cookie-authenticated request fails closed with 503 unavailable; Bearer calls still pass; sign-in is 503 too", async () => {
    // A port nobody listens on: the connection is refused, as with a Redis that is down.
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, "127.0.0.1", () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });
    const logger = createLogger({ level: "silent" });
    const redis = createRedis(`redis://127.0.0.1:${port}`, logger);
    try {
      const adminToken = "an-admin-token-for-this-test-0123456789";
      const sessions = createConsoleSessions({ redis, prefix: `test:${randomId()}:`, adminToken, logger });
      const app = new Hono<AppEnv>();
      app.onError(errorHandler(logger));
      app.use(
        "/admin/*",
        requireAdmin({
          adminToken,
          authenticateUser: Object.assign(async () => null, { start: async () => {}, stop: () => {} }),
          sessions,
        }),
      );
      app.get("/admin/sales", (c) => c.json({ sales: [] }));
      const cookie = `${SESSION_COOKIE}=${issueSession(adminToken, "any-generation").value}`;
      const res = await app.request("/admin/sales", { headers: { cookie } });
      expect(res.status).toBe(503);
      expect(await codeOf(res)).toBe("unavailable");
      expect(res.headers.get("retry-after")).toBe("1");
      expect((await app.request("/admin/sales", { headers: { authorization: `Bearer ${adminToken}` } })).status).toBe(200);
      expect((await app.request("/admin/sales")).status).toBe(401); // no cookie: nothing to ask Redis
      const limiter = createSignInLimiter({ redis, prefix: `test:${randomId()}:` });
      const refused = await limiter.attempt("198.51.100.1").catch((err: unknown) => err);
      expect(refused).toBeInstanceOf(AppError);
      expect((refused as AppError).code).toBe("unavailable");
    } finally {
      redis.disconnect();
    }
  });
});
