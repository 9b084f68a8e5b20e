import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createGateway, type Gateway } from "../../apps/gateway/app.js";
import { startTestPlatform, type TestPlatform } from "../helpers/platform.js";

/**
 * In one process the gateway calls the API's purchase directly (apiPurchase), not through the
 * API's HTTP app. Both ways must answer the same: a second gateway on the same API and services
 * goes through apiFetch only, and every kind of answer is compared (status, error body, headers).
 */
let p: TestPlatform;
let viaHttp: Gateway;
beforeAll(async () => {
  p = await startTestPlatform({ handoff: { relayIntervalMs: 600_000 }, soldOutRefreshMs: 600_000 });
  viaHttp = createGateway({ services: p.services, apiFetch: p.api.app.fetch, soldOutRefreshMs: 600_000 });
  await viaHttp.start();
});
afterAll(async () => {
  await viaHttp?.stop();
  await p?.stop();
});

async function buy(g: Gateway, saleId: string, user: string, headers: Record<string, string> = {}) {
  const res = await g.app.request(`/api/sales/${saleId}/orders`, {
    method: "POST",
    headers: { authorization: `Bearer ${await p.token(user)}`, "content-type": "application/json", ...headers },
    body: "{}",
  });
  const body = (await res.json()) as Record<string, Record<string, unknown> | string>;
  if (typeof body.error === "object") {
    delete body.error.requestId;
    if (body.error.saleId === saleId) body.error.saleId = "<sale>";
  }
  if (typeof body.orderId === "string") body.orderId = "<id>";
  const h = Object.fromEntries(res.headers);
  delete h["x-request-id"];
  return { status: res.status, body, headers: h };
}

describe("the direct purchase answers what the HTTP hop answers", () => {
  it("202, then 409 for the same buyer, the Idempotency-Key replay, and 410 once the stock is gone", async () => {
    // The same steps through each gateway, each on a sale of its own.
    const steps = async (g: Gateway, tag: string) => {
      const saleId = await p.createSale({ stock: 2 });
      return [
        await buy(g, saleId, `${tag}-a`, { "idempotency-key": "k-1" }),
        await buy(g, saleId, `${tag}-a`), // the buyer again: 409 from the API's script
        await buy(g, saleId, `${tag}-a`, { "idempotency-key": "k-1" }), // the replay: the same order, 202
        await buy(g, saleId, `${tag}-b`),
        await buy(g, saleId, `${tag}-c`), // none left: 410 from the API's script
      ];
    };
    const direct = await steps(p.gateway, "direct");
    expect(direct.map((a) => a.status)).toEqual([202, 409, 202, 202, 410]);
    expect(direct).toEqual(await steps(viaHttp, "http"));
  });

  it("what the API's answer teaches the edge is learnt the direct way too (sold-out flag, recent buyer)", async () => {
    const saleId = await p.createSale({ stock: 2 });
    expect((await buy(p.gateway, saleId, "learn-a")).status).toBe(202);
    expect((await buy(p.gateway, saleId, "learn-a")).status).toBe(409);
    expect(p.gateway.holders.holds(saleId, "learn-a")).toBe(true);
    expect((await buy(p.gateway, saleId, "learn-b")).status).toBe(202);
    expect((await buy(p.gateway, saleId, "learn-c")).status).toBe(410);
    expect(p.gateway.soldOut.isSoldOut(saleId)).toBe(true);
  });

  it("the API's 503s keep their Retry-After: a blocked sale (paused, 5 s) and Redis not yet verified (1 s)", async () => {
    const blocked = async (g: Gateway, tag: string) => {
      const saleId = await p.createSale({ stock: 2 });
      await p.api.ctx.store.block(saleId);
      return buy(g, saleId, `${tag}-blocked`);
    };
    const paused = await blocked(p.gateway, "direct");
    expect(paused.status).toBe(503);
    expect(paused.headers["retry-after"]).toBe("5");
    expect(paused).toEqual(await blocked(viaHttp, "http"));

    const saleId = await p.createSale({ stock: 2 });
    const guard = p.api.ctx.guard;
    const original = Object.getOwnPropertyDescriptor(guard, "verified");
    if (!original) throw new Error("the Redis guard has no own verified property");
    Object.defineProperty(guard, "verified", { get: () => false, configurable: true });
    try {
      const unverified = await buy(p.gateway, saleId, "unverified-direct");
      expect(unverified.status).toBe(503);
      expect(unverified.headers["retry-after"]).toBe("1");
      expect(unverified).toEqual(await buy(viaHttp, saleId, "unverified-http"));
    } finally {
      Object.defineProperty(guard, "verified", original);
    }
    expect((await buy(p.gateway, saleId, "verified-again")).status).toBe(202);
  });
});
