import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);

/**
 * A process that loads the purchase path (gateway, API, writer, lifecycle, bootstrap) and starts
 * tracing as bootstrap does, under a module hook that refuses to resolve any @opentelemetry
 * package: it succeeds only if nothing of OpenTelemetry is loaded.
 */
const HOOK = `export async function resolve(specifier, context, next) {
  if (specifier.includes("@opentelemetry/")) throw new Error("OpenTelemetry loaded: " + specifier);
  return next(specifier, context);
}`;
const SCRIPT = `
import { register } from "node:module";
register("data:text/javascript," + encodeURIComponent(${JSON.stringify(HOOK)}));
const { startTracing, tracing } = await import("./apps/core/tracing.ts");
for (const m of ["./apps/core/bootstrap.ts", "./apps/gateway/app.ts", "./apps/api/app.ts", "./apps/order-writer/writer.ts", "./apps/lifecycle/worker.ts"]) await import(m);
await startTracing({ endpoint: process.env.OTEL_EXPORTER_OTLP_ENDPOINT, serviceName: "probe", logger: { info() {} } });
process.stdout.write(tracing() ? "on" : "off");
`;

async function probe(env: Record<string, string>) {
  try {
    const { stdout } = await run(process.execPath, ["--import", "tsx", "--input-type=module", "-e", SCRIPT], {
      env: { PATH: process.env.PATH ?? "", ...env },
    });
    return { code: 0, out: stdout };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout + e.stderr };
  }
}

describe("tracing off", () => {
  it("without OTEL_EXPORTER_OTLP_ENDPOINT, no OpenTelemetry module is loaded at all", async () => {
    expect(await probe({})).toEqual({ code: 0, out: "off" });
  });

  it("with it set, the SDK is loaded (the hook above would catch it)", async () => {
    const r = await probe({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:1" });
    expect(r.code).not.toBe(0);
    expect(r.out).toContain("OpenTelemetry loaded: @opentelemetry/");
  });
});
