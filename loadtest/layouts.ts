import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { freePort, nodeChildren, spawnEntry, stopChild } from "../infra/processes.js";

const ROOT = fileURLToPath(new URL("../", import.meta.url));

/** How the platform's processes are arranged for one pass of the bench. */
export type LayoutKind = "one-process" | "workers" | "split";

export const LAYOUTS: Record<LayoutKind, string> = {
  "one-process": "gateway + API + writer in one process (npm start, HTTP_WORKERS=1)",
  workers: "npm start with HTTP_WORKERS=2: gateway + API in 2 workers sharing the port, writer in the primary",
  split: "gateway process (HTTP_WORKERS=2) -> keep-alive HTTP -> API process; writer and admin processes of their own",
};

export interface Layout {
  kind: LayoutKind;
  /** Where purchases go. */
  base: string;
  /** Where /admin/* is served. */
  admin: string;
  /** Resident memory of each process that runs gateway code, in bytes. */
  gatewayRss(): number[];
  /** The platform's own processes (not the stack's), for CPU accounting. */
  pids: number[];
  stop(): Promise<void>;
}

export async function waitReady(url: string, ms = 120_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const ok = await fetch(url).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} not ready after ${ms} ms; see ${tmpdir()}/seckill-bench-*.log`);
}

function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) * 1024 : 0;
}

/** RSS of the processes serving HTTP: the workers when there are several, else the process itself. */
function httpRss(pid: number, workers: number): number[] {
  return (workers > 1 ? nodeChildren(pid) : [pid]).map(rssOf);
}

/** Starts one layout against the given services (env holds REDIS_URL, DATABASE_URL, KAFKA_BROKERS). */
export async function startLayout(
  kind: LayoutKind,
  env: Record<string, string | undefined>,
  opts: { gatewayWorkers?: number /** Another checkout to run the apps from (a before/after comparison). */; root?: string } = {},
): Promise<Layout> {
  const children: ChildProcess[] = [];
  const start = async (name: string, entry: string, extra: Record<string, string>) => {
    const port = await freePort();
    const child = spawnEntry(entry, {
      cwd: opts.root ?? ROOT,
      env: { ...env, ...extra, PORT: String(port) },
      logFile: `${tmpdir()}/seckill-bench-${kind}-${name}.log`,
    });
    children.push(child);
    return { url: `http://127.0.0.1:${port}`, pid: child.pid! };
  };
  const stop = async () => {
    for (const c of children.reverse()) await stopChild(c);
  };
  try {
    if (kind === "split") {
      const api = await start("api", "apps/api/main.ts", {});
      const gatewayWorkers = opts.gatewayWorkers ?? 2;
      const gateway = await start("gateway", "apps/gateway/main.ts", { API_URL: api.url, HTTP_WORKERS: String(gatewayWorkers) });
      const writer = await start("writer", "apps/order-writer/main.ts", {});
      const admin = await start("admin", "apps/admin/main.ts", {});
      await Promise.all([api, gateway, writer, admin].map((p) => waitReady(`${p.url}/readyz`)));
      return {
        kind,
        base: gateway.url,
        admin: admin.url,
        gatewayRss: () => httpRss(gateway.pid, gatewayWorkers),
        pids: [api.pid, gateway.pid, writer.pid, admin.pid],
        stop,
      };
    }
    const workers = kind === "workers" ? 2 : 1;
    const platform = await start("platform", "apps/platform/main.ts", { HTTP_WORKERS: String(workers) });
    await waitReady(`${platform.url}/readyz`);
    return {
      kind,
      base: platform.url,
      admin: platform.url,
      gatewayRss: () => httpRss(platform.pid, workers),
      pids: [platform.pid],
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
