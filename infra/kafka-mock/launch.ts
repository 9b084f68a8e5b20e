import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, renameSync, statSync } from "node:fs";
import { createInterface } from "node:readline";
import { fromRoot } from "../../apps/core/paths.js";
import { ensurePackages } from "../packages.js";
import { spawnManaged, stopChild } from "../processes.js";
import type { Provided } from "../stack.js";

const SOURCE = fromRoot("infra/kafka-mock/launcher.c");
const BUILD_DIR = fromRoot("infra/kafka-mock/build/");
export const LAUNCHER_BIN = `${BUILD_DIR}launcher`;

/** Compiles the launcher on first use (and again when launcher.c is newer than the binary). */
export function buildLauncher(): string {
  if (existsSync(LAUNCHER_BIN) && statSync(LAUNCHER_BIN).mtimeMs >= statSync(SOURCE).mtimeMs) return LAUNCHER_BIN;
  ensurePackages(["gcc", "librdkafka-dev"]);
  mkdirSync(BUILD_DIR, { recursive: true });
  // Build beside the target and rename, so two processes building at once never run a half-written file.
  const tmp = `${LAUNCHER_BIN}.${process.pid}.tmp`;
  try {
    execFileSync("gcc", ["-O2", "-Wall", "-o", tmp, SOURCE, "-lrdkafka"], { stdio: ["ignore", "ignore", "pipe"] });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString() ?? "";
    throw new Error(`could not compile the Kafka mock launcher (${SOURCE}):\n${stderr}`);
  }
  renameSync(tmp, LAUNCHER_BIN);
  return LAUNCHER_BIN;
}

export interface KafkaMock extends Provided {
  /** host:port of the launcher's control channel (fault injection). */
  control: string;
}

/** Starts librdkafka's mock cluster with the given topics ("name" -> partitions). */
export async function startKafkaMock(opts: { brokers: number; topics: Record<string, number> }): Promise<KafkaMock> {
  const bin = buildLauncher();
  const args = ["--brokers", String(opts.brokers)];
  for (const [name, partitions] of Object.entries(opts.topics)) args.push("--topic", `${name}:${partitions}`);
  // stdin stays a pipe we hold: when this process goes, the launcher reads EOF and exits.
  const child = spawnManaged(bin, args, { stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (d) => {
    stderr += d;
  });
  const info: Record<string, string> = {};
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`kafka mock launcher did not start within 10 s: ${stderr}`)), 10_000);
    const lines = createInterface({ input: child.stdout! });
    lines.on("line", (line) => {
      const eq = line.indexOf("=");
      if (eq > 0) info[line.slice(0, eq)] = line.slice(eq + 1);
      if (line === "ready") {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`kafka mock launcher exited with code ${code}: ${stderr}`));
    });
  });
  // Later stdout lines are replies to stdin commands, which we do not send; keep the pipe drained.
  child.stdout?.resume();
  return { url: info.bootstrap, control: info.control, source: "started", pid: child.pid, stop: () => stopChild(child, 5000) };
}
