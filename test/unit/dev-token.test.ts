import { describe, expect, it } from "vitest";
import { DEV_SECRETS } from "../../apps/core/config.js";
import { parseTtl, readTokenRequest } from "../../apps/dev-token/options.js";
import { paymentTarget } from "../../apps/payment-simulator/target.js";

describe("token options", () => {
  it("reads durations in seconds, minutes, hours and days, and refuses anything else", () => {
    expect(parseTtl("90s")).toBe(90);
    expect(parseTtl("30m")).toBe(1800);
    expect(parseTtl("1h")).toBe(3600);
    expect(parseTtl("2d")).toBe(172_800);
    expect(parseTtl("45")).toBe(45);
    for (const bad of ["", "0", "1w", "-1h", "1.5h", "h"]) expect(parseTtl(bad)).toBeNull();
  });

  it("defaults to one hour with the development secret", () => {
    expect(readTokenRequest(["ann"], {})).toEqual({
      userId: "ann",
      ttlSeconds: 3600,
      secret: DEV_SECRETS.JWT_SECRET,
      devSecret: true,
      claims: {},
    });
  });

  it("refuses a user id the gateway would refuse, and a missing one", () => {
    expect(readTokenRequest(["ann smith"], {})).toHaveProperty("error");
    expect(readTokenRequest([], {})).toHaveProperty("error");
    expect(readTokenRequest(["a", "b"], {})).toHaveProperty("error");
  });

  it("in production refuses the development secret even when it is given explicitly", () => {
    expect(readTokenRequest(["ann"], { NODE_ENV: "production" })).toHaveProperty("error");
    expect(readTokenRequest(["ann"], { NODE_ENV: "production", JWT_SECRET: DEV_SECRETS.JWT_SECRET })).toHaveProperty("error");
    expect(readTokenRequest(["ann"], { NODE_ENV: "production", JWT_SECRET: "x".repeat(32) })).toMatchObject({ devSecret: false });
  });
});

describe("token options against the deployment's token rules", () => {
  it("adds iss and aud when the gateway requires them", () => {
    expect(readTokenRequest(["ann"], { JWT_ISSUER: "https://id.example", JWT_AUDIENCE: "seckill" })).toMatchObject({
      claims: { iss: "https://id.example", aud: "seckill" },
    });
  });

  it("refuses when user tokens come from an identity provider (JWT_JWKS_URL)", () => {
    expect(readTokenRequest(["ann"], { JWT_JWKS_URL: "https://id.example/jwks.json" })).toHaveProperty("error");
  });
});

describe("payment target", () => {
  it("is the local platform on PORT, or --url when given", () => {
    expect(paymentTarget({ HOST: "127.0.0.1", PORT: 4100 })).toEqual({ baseUrl: "http://127.0.0.1:4100", source: "PORT=4100" });
    expect(paymentTarget({ HOST: "0.0.0.0", PORT: 80 }).baseUrl).toBe("http://127.0.0.1:80");
    expect(paymentTarget({ HOST: "::1", PORT: 3000 }).baseUrl).toBe("http://[::1]:3000");
    expect(paymentTarget({ HOST: "127.0.0.1", PORT: 3000 }, "https://shop.example/")).toEqual({
      baseUrl: "https://shop.example",
      source: "--url",
    });
  });
});
