import type { Hono } from "hono";
import { errorResponse } from "./errors.js";
import type { AppEnv } from "./http.js";
import { json } from "./respond.js";

/** A readiness check: resolves when the dependency answers, rejects (or times out) when it does not. */
export type ReadyCheck = () => Promise<unknown>;

const CHECK_TIMEOUT_MS = 1000;

async function runCheck(check: ReadyCheck): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
  });
  try {
    await Promise.race([check(), timeout]);
    return "ok";
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  } finally {
    clearTimeout(timer);
  }
}

/** GET /healthz (the process is alive) and GET /readyz (every dependency answers; 503 naming the ones that do not). */
export function mountHealth(app: Hono<AppEnv>, checks: Record<string, ReadyCheck>): void {
  app.get("/healthz", (c) => json(c, { status: "ok" }));
  app.get("/readyz", async (c) => {
    const names = Object.keys(checks);
    const results = await Promise.all(names.map((n) => runCheck(checks[n])));
    const report = Object.fromEntries(names.map((n, i) => [n, results[i]]));
    const down = names.filter((n) => report[n] !== "ok");
    if (down.length === 0) return json(c, { status: "ready", checks: report });
    return errorResponse(c, "not_ready", `not ready: ${down.map((n) => `${n} (${report[n]})`).join(", ")}`, {
      extra: { checks: report },
    });
  });
}
