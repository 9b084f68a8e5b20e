import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomId } from "../helpers/env.js";
import { startTestPlatform, type TestPlatform } from "../helpers/platform.js";

let p: TestPlatform;
let admin: Record<string, string>;
beforeAll(async () => {
  p = await startTestPlatform();
  admin = { authorization: `Bearer ${p.services.config.ADMIN_TOKEN}`, "content-type": "application/json" };
});
afterAll(() => p.stop());

const call = (path: string, init: { method?: string; headers?: Record<string, string>; body?: unknown } = {}) =>
  Promise.resolve(
    p.gateway.app.request(path, {
      method: init.method ?? "GET",
      headers: init.headers,
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    }),
  );
const codeOf = async (r: Response) => ((await r.json()) as { error: { code: string } }).error.code;

const hour = 3600_000;
const future = () => ({ startsAt: new Date(Date.now() + hour).toISOString(), endsAt: new Date(Date.now() + 2 * hour).toISOString() });

describe("admin API", () => {
  it("needs the admin token: 401 without, 403 with a user token", async () => {
    const none = await call("/admin/sales", { method: "POST", body: {} });
    expect([none.status, await codeOf(none)]).toEqual([401, "unauthorized"]);
    const user = await call("/admin/sales", { method: "POST", headers: { authorization: `Bearer ${await p.token("u")}` }, body: {} });
    expect([user.status, await codeOf(user)]).toEqual([403, "forbidden"]);
    const wrong = await call("/admin/sales", { method: "POST", headers: { authorization: "Bearer nope" }, body: {} });
    expect(wrong.status).toBe(401);
  });

  it("creates a sale (201) with defaults, refuses a duplicate id (409) and bad input (400) without writing", async () => {
    const id = randomId("adm-");
    const res = await call("/admin/sales", {
      method: "POST",
      headers: admin,
      body: { id, title: "Phone", priceCents: 49900, stock: 10, ...future() },
    });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({
      id,
      title: "Phone",
      priceCents: 49900,
      totalStock: 10,
      paymentTimeoutSeconds: 900,
      perUserLimit: 1,
    });
    const dup = await call("/admin/sales", {
      method: "POST",
      headers: admin,
      body: { id, title: "Again", priceCents: 1, stock: 1, ...future() },
    });
    expect([dup.status, await codeOf(dup)]).toEqual([409, "conflict"]);

    const bad = [
      { title: "", priceCents: 1, stock: 1, ...future() },
      { title: "x", priceCents: -1, stock: 1, ...future() },
      { title: "x", priceCents: 1, stock: 0, ...future() },
      { title: "x", priceCents: 1, stock: 1, startsAt: future().endsAt, endsAt: future().startsAt },
      { title: "x", priceCents: 1, stock: 1, ...future(), perUserLimit: 99 },
      { title: "x", priceCents: 1, stock: 1, ...future(), surprise: true },
      { id: "no spaces", title: "x", priceCents: 1, stock: 1, ...future() },
    ];
    for (const body of bad) {
      const r = await call("/admin/sales", { method: "POST", headers: admin, body });
      expect([r.status, await codeOf(r)]).toEqual([400, "invalid_request"]);
    }
    const generated = await call("/admin/sales", {
      method: "POST",
      headers: admin,
      body: { title: "No id", priceCents: 1, stock: 1, ...future() },
    });
    expect(((await generated.json()) as { id: string }).id).toMatch(/^sale_[0-9a-z]{26}$/);
  });

  it("preload is idempotent and refuses once the sale has started unless forced", async () => {
    const id = randomId("pre-");
    await call("/admin/sales", { method: "POST", headers: admin, body: { id, title: "Watch", priceCents: 100, stock: 25, ...future() } });
    const first = await call(`/admin/sales/${id}/preload`, { method: "POST", headers: admin });
    expect([first.status, await first.json()]).toEqual([200, { id, remaining: 25 }]);
    expect(await (await call(`/admin/sales/${id}/preload`, { method: "POST", headers: admin })).json()).toEqual({ id, remaining: 25 });
    expect((await call("/admin/sales/nope/preload", { method: "POST", headers: admin })).status).toBe(404);

    const started = await p.createSale({ stock: 5, preload: false });
    const refused = await call(`/admin/sales/${started}/preload`, { method: "POST", headers: admin });
    expect([refused.status, await codeOf(refused)]).toEqual([409, "sale_started"]);
    const forced = await call(`/admin/sales/${started}/preload?force=true`, { method: "POST", headers: admin });
    expect(await forced.json()).toEqual({ id: started, remaining: 5 });
    // A forced preload mid-sale never resets the stock buyers already took.
    expect((await p.buy(started, await p.token("mid-sale"))).status).toBe(202);
    expect(await (await call(`/admin/sales/${started}/preload?force=true`, { method: "POST", headers: admin })).json()).toEqual({
      id: started,
      remaining: 4,
    });
  });

  it("stats report stock, accepted, persisted and pending handoff", async () => {
    const id = await p.createSale({ stock: 8 });
    await p.buy(id, await p.token("s1"));
    await p.buy(id, await p.token("s2"));
    const stats = await p.stats(id);
    expect(stats).toMatchObject({ id, totalStock: 8, remaining: 6, accepted: 2, paid: 0, closed: 0 });
    expect(stats.persisted + stats.inTransit).toBe(2);
    expect((await call("/admin/sales/nope/stats", { headers: admin })).status).toBe(404);
  });
});
