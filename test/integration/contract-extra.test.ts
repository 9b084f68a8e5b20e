import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { OpenApiDocument } from "../../apps/contract/document.js";
import { createContractChecker } from "../helpers/contract.js";
import { startTestPlatform, type TestPlatform } from "../helpers/platform.js";

let p: TestPlatform;
let checker: ReturnType<typeof createContractChecker>;
beforeAll(async () => {
  p = await startTestPlatform({ writer: true, lifecycle: true });
  checker = createContractChecker((await (await p.gateway.app.request("/openapi.json")).json()) as OpenApiDocument);
});
afterAll(() => p.stop());

async function call(method: string, template: string, path: string, headers: Record<string, string> = {}, body?: string) {
  const res = await p.gateway.app.request(`http://127.0.0.1${path}`, { method, headers, body });
  const problems = await checker.check(method, template, res.clone());
  return { status: res.status, problems, text: await res.text() };
}

describe("the OpenAPI document, the console's session and the newer admin routes", () => {
  it("describes every answer of the console's session, replay, move-stock-home, a split sale's stats, readiness, metrics and the pages (503 before the build, 304 for an ETag)", async () => {
    const admin = { authorization: `Bearer ${p.services.config.ADMIN_TOKEN}`, "content-type": "application/json" };
    const own = { origin: "http://127.0.0.1", "content-type": "application/json" };
    const saleId = await p.createSale({ stock: 10, stockBuckets: 4 });
    const out = [
      await call("GET", "/admin/session", "/admin/session"),
      await call("POST", "/admin/session", "/admin/session", own, JSON.stringify({ token: p.services.config.ADMIN_TOKEN })),
      await call("POST", "/admin/session", "/admin/session", own, JSON.stringify({ token: "nope" })),
      await call("POST", "/admin/session", "/admin/session", own, "{bad"),
      await call("POST", "/admin/session", "/admin/session", { "content-type": "application/json" }, "{}"),
      await call("DELETE", "/admin/session", "/admin/session", own),
      await call("DELETE", "/admin/session", "/admin/session"),
      await call("DELETE", "/admin/session", "/admin/session?all=maybe", own),
      await call("DELETE", "/admin/session", "/admin/session?all=true", own),
      await call("DELETE", "/admin/session", "/admin/session?all=true", admin),
      await call("POST", "/admin/sales/:id/events/replay", `/admin/sales/${saleId}/events/replay`, admin),
      await call("POST", "/admin/sales/:id/events/replay", "/admin/sales/nope/events/replay", admin),
      await call("POST", "/admin/sales/:id/events/replay", `/admin/sales/${saleId}/events/replay`),
      await call("GET", "/admin/sales/:id/stats", `/admin/sales/${saleId}/stats`, admin),
      await call("GET", "/admin/sales/:id/live", `/admin/sales/${saleId}/live`, admin),
      await call("POST", "/admin/sales/:id/move-stock-home", `/admin/sales/${saleId}/move-stock-home`, admin, "{}"),
      await call("POST", "/admin/sales/:id/move-stock-home", `/admin/sales/${saleId}/move-stock-home`, admin, "{bad"),
      await call("POST", "/admin/sales/:id/preload", `/admin/sales/${saleId}/preload?force=true`, admin),
      await call("POST", "/admin/sales/:id/reconcile", `/admin/sales/${saleId}/reconcile`, admin),
      await call("GET", "/admin/dlq", `/admin/dlq?saleId=${saleId}`, admin),
      await call("POST", "/admin/dlq/:id/redrive", "/admin/dlq/0:999999/redrive", admin),
      await call("GET", "/readyz", "/readyz"),
      await call("GET", "/metrics", "/metrics"),
      await call("GET", "/metrics", "/metrics", admin),
    ];
    expect(out.map((o) => o.status)).toEqual([
      200, 200, 401, 400, 403, 200, 403, 400, 401, 200, 202, 404, 401, 200, 200, 200, 400, 200, 200, 200, 404, 200, 401, 200,
    ]);
    // The pages: 200 and then 304 for their ETag once built, 503 before `npm run build:web`.
    for (const page of ["/", "/admin/console"]) {
      const first = await p.gateway.app.request(page);
      out.push(await call("GET", page, page));
      const etag = first.headers.get("etag");
      if (etag) out.push(await call("GET", page, page, { "if-none-match": etag }));
    }
    const bad = out.filter((o) => o.problems.length).map((o) => ({ status: o.status, problems: o.problems, text: o.text.slice(0, 200) }));
    expect(bad).toEqual([]);
  });
});
