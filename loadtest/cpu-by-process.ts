import { readdirSync, readFileSync } from "node:fs";

/**
 * CPU time of every process on the box, sampled while a load runs, so a report can say where a
 * window's CPU went (the platform, the load generator, Redis, MariaDB, the Kafka mock, ...).
 * Read from /proc/<pid>/task/<tid>/schedstat (first field: nanoseconds on a CPU, every thread
 * summed; Linux's scheduler statistics, Documentation/scheduler/sched-stats.rst), every
 * `intervalMs`; a window's figure is the difference between the samples nearest its ends.
 */
export interface CpuSampler {
  /** Stops sampling; returns CPU ms per label between `from` and `to` (CLOCK_MONOTONIC, µs). */
  stop(): void;
  between(from: bigint, to: bigint): { label: string; cpuMs: number }[];
}

interface Sample {
  atUs: bigint;
  cpuNs: Map<number, number>;
}

function cpuNsOf(pid: number): number {
  let ns = 0;
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
      } catch {
        // The thread ended between the listing and the read.
      }
    }
  } catch {
    // The process ended.
  }
  return ns;
}

/** The process's command line, or its name, or "" once it is gone. */
function commandOf(pid: number): string {
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ").trim();
    return cmd || readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "";
  }
}

/**
 * Samples the processes `labelOf` names (from pid and command line; undefined: not sampled, so
 * the sampler stays cheap). A process first seen inside a window counts from its first sample.
 */
export function sampleCpu(labelOf: (pid: number, command: string) => string | undefined, intervalMs = 25): CpuSampler {
  const samples: Sample[] = [];
  const labels = new Map<number, string>();
  const take = () => {
    const cpuNs = new Map<number, number>();
    for (const entry of readdirSync("/proc")) {
      const pid = Number(entry);
      if (!Number.isInteger(pid)) continue;
      if (!labels.has(pid)) labels.set(pid, labelOf(pid, commandOf(pid)) ?? "");
      if (labels.get(pid)) cpuNs.set(pid, cpuNsOf(pid));
    }
    samples.push({ atUs: process.hrtime.bigint() / 1000n, cpuNs });
  };
  take();
  const timer = setInterval(take, intervalMs);
  return {
    stop: () => {
      clearInterval(timer);
      take();
    },
    between(from, to) {
      const nearest = (t: bigint) => samples.reduce((best, s) => (abs(s.atUs - t) < abs(best.atUs - t) ? s : best));
      const a = nearest(from);
      const b = nearest(to);
      const byLabel = new Map<string, number>();
      for (const [pid, ns] of b.cpuNs) {
        const label = labels.get(pid)!;
        const start = a.cpuNs.get(pid) ?? samples.find((s) => s.atUs >= a.atUs && s.cpuNs.has(pid))!.cpuNs.get(pid)!;
        byLabel.set(label, (byLabel.get(label) ?? 0) + (ns - start) / 1e6);
      }
      return [...byLabel].map(([label, cpuMs]) => ({ label, cpuMs })).sort((x, y) => y.cpuMs - x.cpuMs);
    },
  };
}

const abs = (x: bigint) => (x < 0n ? -x : x);

/** Labels for the bench's processes: the platform (by pid), the generator, Redis, MariaDB, the Kafka mock. */
export function benchLabels(platformPids: number[]): (pid: number, command: string) => string | undefined {
  return (pid, command) => {
    if (platformPids.includes(pid)) return "platform";
    if (command.includes("loadtest/drive.ts")) return "load generator";
    if (command.startsWith("redis-server") || command.includes("/redis-server")) return "redis-server";
    if (command.includes("mariadbd") || command.includes("mysqld")) return "mariadb";
    if (command.includes("kafka-mock") || command.includes("launcher")) return "kafka mock";
    return undefined;
  };
}
