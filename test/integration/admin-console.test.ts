import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { issueSession } from "../../apps/admin/session.js";
import { ownDatabase, randomId } from "../helpers/env.js";
import { startTestPlatform, type TestPlatform } from "../helpers/platform.js";

let p: TestPlatform;
let db: Awaited<ReturnType<typeof ownDatabase>>;
beforeAll(async () => {
  // A database of its own: the sales list reads the newest sales of the whole table.
  db = await ownDatabase();
  p = await startTestPlatform({ env: { MAX_INFLIGHT_PURCHASES: "100000", DATABASE_URL: db.url } });
});
afterAll(async () => {
  await p.stop();
  await db.drop();
});

const ORIGIN = "http://localhost"; // app.request's own origin
const req = (path: string, init: RequestInit = {}) => Promise.resolve(p.gateway.app.request(path, init));
const newSale = (id: string) =>
  JSON.stringify({
    id,
    title: "t",
    priceCents: 100,
    stock: 5,
    startsAt: new Date(Date.now() + 60_000).toISOString(),
    endsAt: new Date(Date.now() + 3600_000).toISOString(),
  });

async function signIn(): Promise<string> {
  const res = await req("/admin/session", {
    method: "POST",
    headers: { origin: ORIGIN, "content-type": "application/json" },
    body: JSON.stringify({ token: p.services.config.ADMIN_TOKEN }),
  });
  expect(res.status).toBe(200);
  return res.headers.get("set-cookie")!.split(";")[0];
}

describe("the console session", () => {
  it("signing in sets a signed cookie: HttpOnly, SameSite=Strict, Path=/admin, expiring after 8 hours", async () => {
    const res = await req("/admin/session", {
      method: "POST",
      headers: { origin: ORIGIN, "content-type": "application/json" },
      body: JSON.stringify({ token: p.services.config.ADMIN_TOKEN }),
    });
    const cookie = res.headers.get("set-cookie")!;
    expect(cookie).toMatch(/^seckill_admin=v2\.[\w-]+\.\d+\.[\w-]+\.[\w-]+;/);
    expect(cookie).toContain("HttpOnly");
    expect(cookie).toContain("SameSite=Strict");
    expect(cookie).toContain("Path=/admin");
    expect(cookie).toContain("Max-Age=28800");
    const session = await req("/admin/session", { headers: { cookie: cookie.split(";")[0] } });
    expect(await session.json()).toMatchObject({ signedIn: true });
  });

  it("a wrong token, or a sign-in posted from another origin, gets no cookie", async () => {
    const wrong = await req("/admin/session", {
      method: "POST",
      headers: { origin: ORIGIN, "content-type": "application/json" },
      body: JSON.stringify({ token: "guess-guess-guess" }),
    });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get("set-cookie")).toBeNull();
    const foreign = await req("/admin/session", {
      method: "POST",
      headers: { origin: "https://evil.example", "content-type": "application/json" },
      body: JSON.stringify({ token: p.services.config.ADMIN_TOKEN }),
    });
    expect(foreign.status).toBe(403);
    expect(foreign.headers.get("set-cookie")).toBeNull();
  });

  it("the cookie reads admin routes; a write with it must come from the console's own origin (CSRF), and a refused write changes nothing", async () => {
    const cookie = await signIn();
    expect((await req("/admin/sales", { headers: { cookie } })).status).toBe(200);
    const id = randomId("csrf-");
    const attempts: Record<string, string>[] = [
      { cookie },
      { cookie, origin: "https://evil.example" },
      { cookie, "sec-fetch-site": "cross-site" },
    ];
    for (const headers of attempts) {
      const res = await req("/admin/sales", {
        method: "POST",
        headers: { ...headers, "content-type": "application/json" },
        body: newSale(id),
      });
      expect(res.status).toBe(403);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("forbidden");
    }
    expect((await req(`/admin/sales/${id}/stats`, { headers: { cookie } })).status).toBe(404);
    const ok = await req("/admin/sales", {
      method: "POST",
      headers: { cookie, origin: ORIGIN, "content-type": "application/json" },
      body: newSale(id),
    });
    expect(ok.status).toBe(201);
    const fetchMetadata = await req(`/admin/sales/${id}/preload`, { method: "POST", headers: { cookie, "sec-fetch-site": "same-origin" } });
    expect(fetchMetadata.status).toBe(200);
  });

  it("a tampered, expired or foreign-signed cookie is refused", async () => {
    const cookie = await signIn();
    const [name, value] = cookie.split("=");
    const parts = value.split(".");
    const longer = `${name}=${[parts[0], parts[1], String(Number(parts[2]) + 86_400_000), parts[3], parts[4]].join(".")}`;
    const laterGeneration = `${name}=${[parts[0], `${parts[1]}x`, ...parts.slice(2)].join(".")}`;
    const expired = `${name}=${issueSession(p.services.config.ADMIN_TOKEN, parts[1], Date.now() - 9 * 3600_000).value}`;
    const otherKey = `${name}=${issueSession("another-admin-token-0123456789", parts[1]).value}`;
    for (const c of [longer, laterGeneration, expired, otherKey, `${name}=garbage`]) {
      expect((await req("/admin/sales", { headers: { cookie: c } })).status).toBe(401);
    }
  });

  it("signing out clears the cookie", async () => {
    await signIn();
    const res = await req("/admin/session", { method: "DELETE", headers: { origin: ORIGIN } });
    expect(res.headers.get("set-cookie")).toMatch(/^seckill_admin=; Max-Age=0;.*Path=\/admin/);
  });

  it("the bearer scheme is case-insensitive for the admin token too", async () => {
    expect((await req("/admin/sales", { headers: { authorization: `bearer ${p.services.config.ADMIN_TOKEN}` } })).status).toBe(200);
  });
});

describe("editing a sale", () => {
  const admin = () => ({ authorization: `Bearer ${p.services.config.ADMIN_TOKEN}`, "content-type": "application/json" });

  it("a change to a loaded sale reaches Redis at once: the next order is charged the new price", async () => {
    const saleId = await p.createSale({ stock: 5, priceCents: 1000 });
    const res = await req(`/admin/sales/${saleId}`, {
      method: "PATCH",
      headers: admin(),
      body: JSON.stringify({ priceCents: 777, perUserLimit: 2 }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ priceCents: 777, perUserLimit: 2, totalStock: 5 });
    const meta = await p.services.redis.hgetall(p.api.ctx.store.keys(saleId).meta);
    expect(meta).toMatchObject({ priceCents: "777", perUserLimit: "2" });
    expect((await req(`/api/sales/${saleId}`)).status).toBe(200);
  });

  it("ending early (endsAt = now) refuses the next purchase with 403 sale_ended", async () => {
    const saleId = await p.createSale({ stock: 5 });
    expect((await p.buy(saleId, await p.token("early-1"))).status).toBe(202); // the gateway now caches the sale as open
    const end = await req(`/admin/sales/${saleId}`, {
      method: "PATCH",
      headers: admin(),
      body: JSON.stringify({ endsAt: new Date().toISOString() }),
    });
    expect(end.status).toBe(200);
    const late = await p.buy(saleId, await p.token("early-2"));
    expect(late.status).toBe(403);
    expect(((await late.json()) as { error: { code: string } }).error.code).toBe("sale_ended");
    expect(await p.stats(saleId)).toMatchObject({ accepted: 1, remaining: 4 });
  });

  it("endsAt before startsAt is refused and nothing changes", async () => {
    const saleId = await p.createSale({ stock: 5 });
    const res = await req(`/admin/sales/${saleId}`, {
      method: "PATCH",
      headers: admin(),
      body: JSON.stringify({ endsAt: "2000-01-01T00:00:00Z" }),
    });
    expect(res.status).toBe(400);
    const list = (await (await req("/admin/sales?limit=500", { headers: admin() })).json()) as { sales: { id: string; state: string }[] };
    expect(list.sales.find((s) => s.id === saleId)?.state).toBe("open");
  });
});

describe("purchase metrics for the dashboard", () => {
  it("label only sales the gateway knows, so made-up sale ids cannot grow the series", async () => {
    const token = await p.token("prober");
    for (let i = 0; i < 5; i++) await p.buy(`made-up-${i}`, token);
    const text = await p.services.registry.metrics();
    expect(text).not.toContain('sale="made-up-');
  });
});
