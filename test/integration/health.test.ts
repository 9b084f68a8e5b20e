import { afterEach, describe, expect, it } from "vitest";
import { createApi } from "../../apps/api/app.js";
import { createLogger } from "../../apps/core/logger.js";
import { createServices, type Services } from "../../apps/core/services.js";
import { freePort } from "../../infra/processes.js";
import { testConfig } from "../helpers/env.js";

const open: Services[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
});

describe("health and readiness", () => {
  it("/readyz is 200 when Redis, MySQL and Kafka all answer", async () => {
    const config = await testConfig();
    const services = createServices(config, createLogger({ level: "silent" }));
    open.push(services);
    const res = await createApi({ services }).app.request("/readyz");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ready", checks: { redis: "ok", mysql: "ok", kafka: "ok" } });
    expect((await createApi({ services }).app.request("/healthz")).status).toBe(200);
  });

  it("/readyz is 503 not_ready naming the dependency that does not answer", async () => {
    const deadPort = await freePort();
    const config = { ...(await testConfig()), REDIS_URL: `redis://127.0.0.1:${deadPort}` };
    const services = createServices(config, createLogger({ level: "silent" }));
    open.push(services);
    const res = await createApi({ services }).app.request("/readyz");
    expect(res.status).toBe(503);
    const body = (await res.json()) as { error: { code: string; message: string; checks: Record<string, string> } };
    expect(body.error.code).toBe("not_ready");
    expect(body.error.message).toMatch(/redis/);
    expect(body.error.checks.mysql).toBe("ok");
    expect(body.error.checks.redis).not.toBe("ok");
  });

  it("an unknown route gets the uniform error body with a request id", async () => {
    const services = createServices(await testConfig(), createLogger({ level: "silent" }));
    open.push(services);
    const res = await createApi({ services }).app.request("/no/such/thing");
    expect(res.status).toBe(404);
    const body = (await res.json()) as { error: { code: string; requestId: string } };
    expect(body.error.code).toBe("not_found");
    expect(body.error.requestId).toMatch(/.+/);
  });
});
