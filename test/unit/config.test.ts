import { describe, expect, it } from "vitest";
import { ConfigError, DEV_SECRETS, defaultSecretsInUse, loadConfig } from "../../apps/core/config.js";

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe("configuration", () => {
  it("works out of the box in development with every default", () => {
    const config = loadConfig({});
    expect(config.PORT).toBe(3000);
    expect(config.ORDER_WRITER_MAX_ROWS_PER_SEC).toBe(2000);
    expect(config.REDIS_URL).toBeUndefined();
    expect(defaultSecretsInUse(config)).toEqual(["JWT_SECRET", "ADMIN_TOKEN", "PAYMENT_WEBHOOK_SECRET"]);
  });

  it("reports every problem at once instead of stopping at the first", () => {
    const problems = problemsOf({
      PORT: "seventy",
      REDIS_URL: "not a url",
      ORDER_WRITER_MAX_ROWS_PER_SEC: "-5",
      KAFKA_BROKERS: "nohostport",
    });
    expect(problems).toHaveLength(4);
    expect(problems.join("\n")).toMatch(/PORT/);
    expect(problems.join("\n")).toMatch(/REDIS_URL/);
    expect(problems.join("\n")).toMatch(/ORDER_WRITER_MAX_ROWS_PER_SEC/);
    expect(problems.join("\n")).toMatch(/KAFKA_BROKERS/);
  });

  it('takes HTTP_WORKERS as a count from 1 or "auto", and nothing else', () => {
    expect(loadConfig({}).HTTP_WORKERS).toBe(1);
    expect(loadConfig({ HTTP_WORKERS: "4" }).HTTP_WORKERS).toBe(4);
    expect(loadConfig({ HTTP_WORKERS: "auto" }).HTTP_WORKERS).toBe("auto");
    for (const bad of ["0", "-1", "two", "1.5"]) expect(problemsOf({ HTTP_WORKERS: bad })).toHaveLength(1);
  });

  it("takes QUEUE_RATE_LIMIT_PER_SEC as a count from 1 to 1000, 100 by default", () => {
    expect(loadConfig({}).QUEUE_RATE_LIMIT_PER_SEC).toBe(100);
    expect(loadConfig({ QUEUE_RATE_LIMIT_PER_SEC: "20" }).QUEUE_RATE_LIMIT_PER_SEC).toBe(20);
    for (const bad of ["0", "1001", "fast", "2.5"]) expect(problemsOf({ QUEUE_RATE_LIMIT_PER_SEC: bad })).toHaveLength(1);
  });

  it("treats an empty string as unset", () => {
    const config = loadConfig({ PORT: "", REDIS_URL: "  ", JWT_SECRET: "" });
    expect(config.PORT).toBe(3000);
    expect(config.REDIS_URL).toBeUndefined();
    expect(config.JWT_SECRET).toBe(DEV_SECRETS.JWT_SECRET);
  });

  it("refuses to start in production with a development secret, naming each one", () => {
    const problems = problemsOf({ NODE_ENV: "production", ADMIN_TOKEN: "a-real-admin-token-of-some-length" });
    expect(problems).toHaveLength(2);
    expect(problems.join("\n")).toMatch(/JWT_SECRET.*production/);
    expect(problems.join("\n")).toMatch(/PAYMENT_WEBHOOK_SECRET.*production/);
  });

  it("refuses a development secret given explicitly in production", () => {
    const problems = problemsOf({
      NODE_ENV: "production",
      JWT_SECRET: DEV_SECRETS.JWT_SECRET,
      ADMIN_TOKEN: "a-real-admin-token-of-some-length",
      PAYMENT_WEBHOOK_SECRET: "a-real-webhook-secret-of-some-length",
    });
    expect(problems).toEqual(["JWT_SECRET: must be set to a secret of your own when NODE_ENV=production"]);
  });

  it("accepts production with secrets of its own", () => {
    const config = loadConfig({
      NODE_ENV: "production",
      JWT_SECRET: "x".repeat(40),
      ADMIN_TOKEN: "a-real-admin-token-of-some-length",
      PAYMENT_WEBHOOK_SECRET: "a-real-webhook-secret-of-some-length",
    });
    expect(defaultSecretsInUse(config)).toEqual([]);
  });

  it("a process given a bad config exits 1 and lists the problems on stderr", async () => {
    const { spawnSync } = await import("node:child_process");
    const result = spawnSync(process.execPath, ["--import", "tsx", "apps/platform/main.ts"], {
      env: { ...process.env, PORT: "nope", ORDER_WRITER_BATCH_SIZE: "0" },
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/invalid configuration/);
    expect(result.stderr).toMatch(/PORT/);
    expect(result.stderr).toMatch(/ORDER_WRITER_BATCH_SIZE/);
  });
});
