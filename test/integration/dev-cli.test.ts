import { execFile } from "node:child_process";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEV_SECRETS } from "../../apps/core/config.js";
import { verifyPaymentSignature } from "../../apps/domain/payment-event.js";
import { createAuthenticator } from "../../apps/gateway/auth.js";

const run = promisify(execFile);

/** Runs a CLI entry as `npm run` does (tsx), with exactly this environment on top of PATH. */
async function cli(entry: string, args: string[], env: Record<string, string>) {
  try {
    const { stdout, stderr } = await run(process.execPath, ["--import", "tsx", entry, ...args], {
      env: { PATH: process.env.PATH ?? "", ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe("npm run token", () => {
  it("prints a token the gateway accepts for that user, signed with the development secret by default", async () => {
    const out = await cli("apps/dev-token/main.ts", ["Ann-1"], {});
    expect(out.code).toBe(0);
    const token = out.stdout.trim();
    expect(await createAuthenticator({ secret: DEV_SECRETS.JWT_SECRET })(`Bearer ${token}`)).toBe("Ann-1");
    expect(out.stderr).toContain("development JWT_SECRET");
  });

  it("signs with JWT_SECRET from the environment and honours --ttl", async () => {
    const secret = "a-secret-of-this-test-0123456789abcdef";
    const out = await cli("apps/dev-token/main.ts", ["bob", "--ttl", "90s"], { JWT_SECRET: secret });
    expect(out.code).toBe(0);
    const token = out.stdout.trim();
    expect(await createAuthenticator({ secret: DEV_SECRETS.JWT_SECRET })(`Bearer ${token}`)).toBeNull();
    const nowS = Date.now() / 1000;
    expect(await createAuthenticator({ secret })(`Bearer ${token}`)).toBe("bob");
    expect(await createAuthenticator({ secret, clockToleranceSec: 0, now: () => nowS + 120 })(`Bearer ${token}`)).toBeNull();
  });

  it("signs the iss and aud the gateway is configured to require", async () => {
    const out = await cli("apps/dev-token/main.ts", ["carl"], { JWT_ISSUER: "https://id.example", JWT_AUDIENCE: "seckill" });
    expect(out.code).toBe(0);
    const token = out.stdout.trim();
    const strict = createAuthenticator({ secret: DEV_SECRETS.JWT_SECRET, issuer: "https://id.example", audience: "seckill" });
    expect(await strict(`Bearer ${token}`)).toBe("carl");
  });

  it("refuses with NODE_ENV=production unless JWT_SECRET is set explicitly", async () => {
    const refused = await cli("apps/dev-token/main.ts", ["ann"], { NODE_ENV: "production" });
    expect(refused.code).toBe(2);
    expect(refused.stdout).toBe("");
    expect(refused.stderr).toContain("JWT_SECRET");
    const allowed = await cli("apps/dev-token/main.ts", ["ann"], { NODE_ENV: "production", JWT_SECRET: "p".repeat(40) });
    expect(allowed.code).toBe(0);
    expect(await createAuthenticator({ secret: "p".repeat(40) })(`Bearer ${allowed.stdout.trim()}`)).toBe("ann");
  });
});

describe("npm run pay", () => {
  // A stand-in payment endpoint that records what the CLI sent: this test is about where the CLI
  // sends and what it says; the callback route itself has its own tests against the real stack.
  const received: { url: string; headers: IncomingMessage["headers"]; body: string }[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      received.push({ url: req.url ?? "", headers: req.headers, body });
      res.writeHead(200, { "content-type": "application/json" }).end('{"received":true}');
    });
  });
  let port = 0;
  beforeAll(async () => {
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it("sends a signed callback to PORT and says which order and port it used", async () => {
    received.length = 0;
    const out = await cli("apps/payment-simulator/main.ts", ["ord_pay_1", "--amount", "1999"], { PORT: String(port) });
    expect(out.code).toBe(0);
    expect(out.stderr).toContain(`order ord_pay_1`);
    expect(out.stderr).toContain(`port ${port}`);
    expect(received).toHaveLength(1);
    const [cb] = received;
    expect(cb.url).toBe("/api/payments/callback");
    expect(JSON.parse(cb.body)).toMatchObject({ orderId: "ord_pay_1", amountCents: 1999, status: "succeeded" });
    const ok = verifyPaymentSignature(
      DEV_SECRETS.PAYMENT_WEBHOOK_SECRET,
      cb.headers["x-timestamp"] as string,
      cb.headers["x-signature"] as string,
      cb.body,
    );
    expect(ok).toBe(true);
  });

  it("sends to --url instead of PORT when given", async () => {
    received.length = 0;
    const out = await cli("apps/payment-simulator/main.ts", ["ord_pay_2", "--amount", "5", "--url", `http://127.0.0.1:${port}/`], {
      PORT: "1",
    });
    expect(out.code).toBe(0);
    expect(out.stderr).toContain(`port ${port}, from --url`);
    expect(received.map((r) => JSON.parse(r.body).orderId)).toEqual(["ord_pay_2"]);
  });

  it("says nothing answered, and exits 1, when no platform listens on PORT", async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const freePort = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const out = await cli("apps/payment-simulator/main.ts", ["ord_pay_3", "--amount", "5"], { PORT: String(freePort) });
    expect(out.code).toBe(1);
    expect(out.stderr).toContain(`nothing answered at http://127.0.0.1:${freePort}`);
  });
});
