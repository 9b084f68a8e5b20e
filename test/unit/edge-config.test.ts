import { describe, expect, it } from "vitest";
import { type Config, ConfigError, DEV_SECRETS, loadConfig } from "../../apps/core/config.js";
import { listenOpsPort } from "../../apps/core/ops-server.js";
import type { Services } from "../../apps/core/services.js";
import { printableSecrets, readyBanner } from "../../apps/platform/banner.js";

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe("edge settings", () => {
  it("takes CORS_ORIGINS as exact origins, none by default, and refuses paths and wildcards", () => {
    expect(loadConfig({}).CORS_ORIGINS).toEqual([]);
    expect(loadConfig({ CORS_ORIGINS: "https://shop.example, http://localhost:5173" }).CORS_ORIGINS).toEqual([
      "https://shop.example",
      "http://localhost:5173",
    ]);
    expect(problemsOf({ CORS_ORIGINS: "https://shop.example/path" }).join()).toMatch(/CORS_ORIGINS/);
    expect(problemsOf({ CORS_ORIGINS: "*" }).join()).toMatch(/CORS_ORIGINS/);
  });

  it("opens no unauthenticated ops listener and no admin listener unless OPS_PORT / ADMIN_PORT is set", async () => {
    const config = loadConfig({});
    expect([config.OPS_PORT, config.ADMIN_PORT]).toEqual([undefined, undefined]);
    // An unset OPS_PORT must not mean "a random port": that would serve /metrics (every sale id)
    // without auth on HOST, the public interface in a deployment with HOST=0.0.0.0.
    expect(await listenOpsPort({ config } as Services, [])).toBeUndefined();
    expect(loadConfig({ OPS_PORT: "9464" }).OPS_PORT).toBe(9464);
    expect(loadConfig({ OPS_PORT: "0" }).OPS_PORT).toBe(0);
  });

  it("wants the request timeout at least as long as the headers timeout (it covers them)", () => {
    expect(loadConfig({}).HTTP_HEADERS_TIMEOUT_MS).toBe(5000);
    expect(loadConfig({}).HTTP_REQUEST_TIMEOUT_MS).toBe(10_000);
    expect(problemsOf({ HTTP_HEADERS_TIMEOUT_MS: "8000", HTTP_REQUEST_TIMEOUT_MS: "4000" }).join()).toMatch(/HTTP_REQUEST_TIMEOUT_MS/);
  });
});

describe("the start-up banner", () => {
  const operator = { JWT_SECRET: "x".repeat(40), ADMIN_TOKEN: "operator-admin-token", PAYMENT_WEBHOOK_SECRET: "y".repeat(20) };

  it("prints the development admin token and a demo user token while the development defaults are in use", async () => {
    const banner = await readyBanner(loadConfig({}), "http://h", "demo-1");
    expect(banner).toContain(DEV_SECRETS.ADMIN_TOKEN);
    expect(banner).toMatch(/TOKEN=eyJ/);
  });

  it("prints neither an operator's admin token nor a token signed with an operator's secret", async () => {
    for (const env of [operator, { ...operator, NODE_ENV: "production" }]) {
      const config: Config = loadConfig(env);
      const banner = await readyBanner(config, "http://h", "demo-1");
      expect(banner).not.toContain(operator.ADMIN_TOKEN);
      expect(banner).not.toMatch(/eyJ/);
      expect(banner).toContain("$ADMIN_TOKEN");
    }
  });

  it("prints no demo token when user tokens come from an identity provider", () => {
    expect(printableSecrets(loadConfig({ JWT_JWKS_URL: "https://idp.example/jwks" })).demoUserToken).toBe(false);
  });
});
