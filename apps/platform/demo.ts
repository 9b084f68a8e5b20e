import type { Hono } from "hono";
import type { Config } from "../core/config.js";
import type { AppEnv } from "../core/http.js";

/**
 * Seeds a demo sale through the admin routes (the same path an operator uses): 100 units at
 * 19.99, open now for a day, preloaded. A fresh id per start, so a restart never meets an old,
 * sold-out demo. Returns its id.
 */
export async function seedDemoSale(admin: Hono<AppEnv>, config: Config) {
  const id = `demo-${new Date().toISOString().replace(/[-:]/g, "").slice(0, 15)}`;
  const auth = { authorization: `Bearer ${config.ADMIN_TOKEN}`, "content-type": "application/json" };
  const now = Date.now();
  const created = await admin.request("/admin/sales", {
    method: "POST",
    headers: auth,
    body: JSON.stringify({
      id,
      title: "Demo: limited sneakers",
      priceCents: 1999,
      stock: 100,
      startsAt: new Date(now).toISOString(),
      endsAt: new Date(now + 24 * 3600_000).toISOString(),
      paymentTimeoutSeconds: 900,
    }),
  });
  if (created.status !== 201 && created.status !== 409)
    throw new Error(`demo sale: create answered ${created.status} ${await created.text()}`);
  const preloaded = await admin.request(`/admin/sales/${id}/preload?force=true`, { method: "POST", headers: auth });
  if (preloaded.status !== 200) throw new Error(`demo sale: preload answered ${preloaded.status} ${await preloaded.text()}`);
  return { saleId: id };
}
