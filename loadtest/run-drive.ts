import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
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
  /** Epoch ms when the load began. */
  startedAt: number;
  /** ms from the first request to the last 2xx answer (null: none). */
  last2xxMs: number | null;
  /** Closed-loop runs only: answers received up to and including the last 2xx (a crowd's selling phase). */
  answersByLast2xx?: number;
  /** Closed-loop runs only: answers by exact status, and latency (ms) of 2xx answers and of the rest apart. */
  byStatus?: Record<string, number>;
  accepted?: { p50: number | null; p99: number | null };
  refused?: { p50: number | null; p99: number | null };
  /** Closed-loop runs only: the slowest 2xx answers, with when each was sent (ms from the start). */
  slowestAccepted?: { sentAtMs: number; ms: number }[];
  /** Open-loop runs only: how late the generator sent, p99 (ms). */
  senderLateP99?: number;
}

/**
 * Runs one load in a process of its own (never the server's event loop, and never blocking the
 * caller's, which may be watching the platform meanwhile) and returns its figures.
 */
export async function runDrive(spec: DriveSpec): Promise<DriveResult> {
  const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", `${ROOT}loadtest/drive.ts`, JSON.stringify(spec)], {
    cwd: ROOT,
    maxBuffer: 1 << 24,
    encoding: "utf8",
  });
  return JSON.parse(stdout.trim().split("\n").pop()!) as DriveResult;
}
