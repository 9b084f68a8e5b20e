import { type ChildProcess, execFileSync, type SpawnOptions, spawn } from "node:child_process";
import { createWriteStream, existsSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { PROJECT_ROOT } from "../apps/core/paths.js";

/**
 * Child processes of the embedded stack. Each is started under `setpriv --pdeathsig SIGTERM`
 * (util-linux), so the kernel stops it even when this process dies by SIGKILL; on an ordinary
 * exit, the exit hook below stops them too. Nothing is left running after the parent is gone.
 * Each runs in a process group of its own: a terminal's Ctrl-C reaches the whole foreground
 * group, and Redis, MariaDB or the Kafka mock dying with it would fail the platform's drain
 * (which stops them itself once it is done).
 */
const children = new Set<ChildProcess>();
let hooked = false;

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on("exit", () => {
    for (const child of children) child.kill("SIGTERM");
  });
}

const SETPRIV = "/usr/bin/setpriv";

export function spawnManaged(command: string, args: string[], opts: SpawnOptions = {}): ChildProcess {
  hookExit();
  const useSetpriv = existsSync(SETPRIV);
  const options: SpawnOptions = { detached: true, ...opts };
  const child = useSetpriv ? spawn(SETPRIV, ["--pdeathsig", "SIGTERM", "--", command, ...args], options) : spawn(command, args, options);
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}

/**
 * Runs a TypeScript entry point (`apps/.../main.ts`, a bench server) as a managed child;
 * its stdout and stderr go to `logFile` (appended with `append`: one log across restarts).
 */
export function spawnEntry(
  entry: string,
  opts: { env: Record<string, string | undefined>; logFile: string; append?: boolean; cwd?: string },
): ChildProcess {
  // The platform's own entries run from the ahead-of-time build, as `npm start` and production
  // do (infra/start.mjs); anything else (bench reference servers) through tsx.
  const compiled = /(^|\/)(apps|infra)\/.*\.ts$/.test(entry) && !entry.includes("loadtest/");
  const args = compiled ? [`${PROJECT_ROOT}infra/start.mjs`, entry.replace(PROJECT_ROOT, "")] : ["--import", "tsx", entry];
  const child = spawnManaged(process.execPath, args, {
    cwd: opts.cwd,
    env: opts.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const log = createWriteStream(opts.logFile, { flags: opts.append ? "a" : "w" });
  // Two sources, one file: neither pipe may end it (the first to end would, and the other's last
  // bytes were then a "write after end" thrown out of the test run); it ends once both closed.
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  child.once("close", () => log.end());
  return child;
}

/** Sends SIGTERM and waits for the exit; SIGKILL after the grace period. */
export async function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}

/** A port that was free a moment ago (the OS picks it); good enough for a local child server. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === "object" && addr ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

/** Polls `probe` until it resolves truthy; rejects with `what` after the timeout. */
export async function waitUntil(what: string, probe: () => Promise<boolean>, timeoutMs: number, child?: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child && (child.exitCode !== null || child.signalCode !== null)) {
      throw new Error(`${what}: the process exited (code ${child.exitCode}, signal ${child.signalCode}) before it was ready`);
    }
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what}: not ready after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function commandExists(cmd: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** The node processes among `pid`'s children (HTTP workers, say; not the Kafka launcher or a database). */
export function nodeChildren(pid: number): number[] {
  try {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
    return children.filter((c) => readFileSync(`/proc/${c}/comm`, "utf8").trim() === "node");
  } catch {
    return [];
  }
}
