import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { spawnManaged, stopChild } from "../../infra/processes.js";

/**
 * Busy-loop processes that keep the machine's cores saturated, so the chaos scenarios run as on
 * a box where everything fights for CPU: heartbeats come late, event loops lag, sessions
 * expire. Each hog is a `node -e "for(;;){}"` child that dies with its parent (setpriv
 * --pdeathsig), so a hog never outlives the run that started it.
 *
 * `npm run cpu-hog [-- <count>]` runs `count` hogs (default: one per core) until Ctrl-C;
 * `npm run chaos -- --cpu-hog[=count]` starts them for the whole chaos run.
 */
export interface CpuHogs {
  count: number;
  stop(): Promise<void>;
}

export function startCpuHogs(count = availableParallelism()): CpuHogs {
  const children = Array.from({ length: count }, () => spawnManaged(process.execPath, ["-e", "for(;;){}"], { stdio: "ignore" }));
  return {
    count,
    async stop() {
      await Promise.all(children.map((c) => stopChild(c, 2000)));
    },
  };
}

/** `--cpu-hog` (one per core) or `--cpu-hog=N` among `args`: how many hogs to start (0: none). */
export function cpuHogsFromArgs(args: string[]): number {
  const flag = args.find((a) => a === "--cpu-hog" || a.startsWith("--cpu-hog="));
  if (!flag) return 0;
  const n = flag.includes("=") ? Number(flag.split("=")[1]) : availableParallelism();
  if (!Number.isInteger(n) || n < 1) throw new Error(`--cpu-hog=N needs a whole number of processes (got ${flag})`);
  return n;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const n = process.argv[2] ? Number(process.argv[2]) : availableParallelism();
  if (!Number.isInteger(n) || n < 1) {
    process.stderr.write("usage: npm run cpu-hog [-- <number of busy processes, default one per core>]\n");
    process.exit(2);
  }
  const hogs = startCpuHogs(n);
  process.stderr.write(`${n} busy-loop process(es) running; Ctrl-C stops them\n`);
  const end = () => void hogs.stop().then(() => process.exit(0));
  process.on("SIGINT", end);
  process.on("SIGTERM", end);
  setInterval(() => {}, 1 << 30);
}
