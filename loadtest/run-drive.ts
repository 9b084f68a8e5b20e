import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { DriveSpec } from "./drive.js";

const ROOT = fileURLToPath(new URL("../", import.meta.url));

export interface DriveResult {
  rps: number;
  total: number;
  p50: number;
  p99: number;
  p999: number;
  errors: number;
  statuses: Record<string, number>;
}

/** Runs one load in a process of its own (never the server's event loop) and returns its figures. */
export function runDrive(spec: DriveSpec): DriveResult {
  const out = execFileSync(process.execPath, ["--import", "tsx", `${ROOT}loadtest/drive.ts`, JSON.stringify(spec)], {
    cwd: ROOT,
    maxBuffer: 1 << 24,
    encoding: "utf8",
  });
  return JSON.parse(out.trim().split("\n").pop()!) as DriveResult;
}
