import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { Redis } from "ioredis";
import { ensurePackages } from "./packages.js";
import { freePort, spawnManaged, stopChild, waitUntil } from "./processes.js";
import { redisServerArgs } from "./redis-server.js";
import type { Provided } from "./stack.js";

/** The local cluster's ports (its own, clear of 6379): three masters, three replicas. */
export const DEFAULT_CLUSTER_PORTS = [7101, 7102, 7103, 7104, 7105, 7106];

/** One redis-server of the local cluster: it can be killed and started again in place (chaos). */
export interface ClusterNodeProcess {
  port: number;
  readonly pid: number | undefined;
  /** SIGKILL: no shutdown, no last fsync (a crash). */
  kill(): void;
  /** Starts it again on the same port and data; `empty` deletes its data first (a disk lost), keeping its cluster identity. */
  start(opts?: { empty?: boolean }): Promise<void>;
  stop(): Promise<void>;
}

export interface ProvidedCluster extends Provided {
  /** Seed nodes, `host:port,...` (what REDIS_CLUSTER_NODES takes). */
  url: string;
  /** The processes, when started here (empty when reused or given). */
  nodes: ClusterNodeProcess[];
}

/** Asks one node for its view of the cluster (`CLUSTER INFO`). */
async function clusterInfo(port: number): Promise<Record<string, string> | null> {
  const probe = new Redis({
    host: "127.0.0.1",
    port,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: 500,
    retryStrategy: () => null,
  });
  probe.on("error", () => {});
  try {
    await probe.connect();
    const text = String(await probe.call("CLUSTER", "INFO"));
    return Object.fromEntries(text.split(/\r?\n/).flatMap((l) => (l.includes(":") ? [l.split(":", 2) as [string, string]] : [])));
  } catch {
    return null;
  } finally {
    probe.disconnect();
  }
}

/** Every node answers, reports `cluster_state:ok`, and knows all six nodes: the cluster serves every slot. */
export async function clusterHealthy(ports: number[]): Promise<boolean> {
  const infos = await Promise.all(ports.map(clusterInfo));
  return infos.every(
    (i) => i?.cluster_state === "ok" && Number(i.cluster_known_nodes) >= ports.length && i.cluster_slots_assigned === "16384",
  );
}

/**
 * Redis Cluster for the platform (REDIS_MODE=cluster): REDIS_CLUSTER_NODES when given; else a
 * healthy cluster already answering on `ports` (a previous `npm start` left running); else six
 * Debian `redis-server`s of our own (3 masters + 3 replicas, AOF with `appendfsync everysec`,
 * data and `nodes.conf` under `dataDir/redis-cluster/<port>`). A first start creates the cluster
 * with `redis-cli --cluster create`; a later start finds it in the nodes' `nodes.conf` files.
 *
 * `cluster-node-timeout 2000`: a dead master's replica is promoted about 2-3 s after the crash.
 * `cluster-require-full-coverage no`: the other shards keep serving while one fails over.
 */
export async function provideRedisCluster(opts: {
  nodes?: string;
  dataDir: string;
  reuseDefault: boolean;
  /** Ports to use; default DEFAULT_CLUSTER_PORTS, or free ports when `freePorts`. */
  ports?: number[];
  freePorts?: boolean;
}): Promise<ProvidedCluster> {
  if (opts.nodes) return { url: opts.nodes, source: "env", nodes: [], stop: async () => {} };
  const ports = opts.ports ?? (opts.freePorts ? await Promise.all(DEFAULT_CLUSTER_PORTS.map(() => freePort())) : DEFAULT_CLUSTER_PORTS);
  const url = ports.map((p) => `127.0.0.1:${p}`).join(",");
  if (opts.reuseDefault && (await clusterHealthy(ports))) return { url, source: "reused", nodes: [], stop: async () => {} };

  ensurePackages(["redis-server"]);
  const root = join(opts.dataDir, "redis-cluster");
  const formed = ports.every((p) => existsSync(join(root, String(p), "nodes.conf")));
  if (!formed) rmSync(root, { recursive: true, force: true }); // half a cluster cannot be repaired here: start over
  const nodes = ports.map((port) => clusterNode(port, join(root, String(port))));
  const stopAll = async () => {
    await Promise.all(nodes.map((n) => n.stop()));
  };
  try {
    for (const n of nodes) await n.start();
    if (!formed) {
      execFileSync(
        "redis-cli",
        ["--cluster", "create", ...ports.map((p) => `127.0.0.1:${p}`), "--cluster-replicas", "1", "--cluster-yes"],
        { stdio: "ignore", timeout: 60_000 },
      );
    }
    await waitUntil("redis cluster", () => clusterHealthy(ports), 60_000);
    // Every master has its replica attached (a failover needs one).
    await waitUntil("redis cluster replicas", () => replicasInSync(ports), 30_000);
  } catch (err) {
    await stopAll();
    throw new Error(
      `could not start the local Redis cluster (${(err as Error).message}); ` +
        `if ${root} is left from an older layout, delete it and start again`,
    );
  }
  return { url, source: "started", nodes, stop: stopAll };
}

async function replicasInSync(ports: number[]): Promise<boolean> {
  const roles = await Promise.all(
    ports.map(async (port) => {
      const c = new Redis({ host: "127.0.0.1", port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      c.on("error", () => {});
      try {
        await c.connect();
        return String(await c.info("replication"));
      } finally {
        c.disconnect();
      }
    }),
  );
  const masters = roles.filter((r) => r.includes("role:master"));
  return masters.length === 3 && masters.every((r) => /connected_slaves:1/.test(r) && /slave0:.*state=online/.test(r));
}

function clusterNode(port: number, dir: string): ClusterNodeProcess {
  let child: ReturnType<typeof spawnManaged> | undefined;
  let exited: Promise<void> = Promise.resolve();
  const args = () =>
    redisServerArgs(port, dir, [
      "--cluster-enabled",
      "yes",
      "--cluster-config-file",
      "nodes.conf",
      "--cluster-node-timeout",
      "2000",
      "--cluster-require-full-coverage",
      "no",
    ]);
  return {
    port,
    get pid() {
      return child?.pid;
    },
    kill() {
      child?.kill("SIGKILL");
    },
    async start(o = {}) {
      await exited; // a node just killed must be gone before its port is taken again
      if (child && child.exitCode === null && child.signalCode === null) return;
      if (o.empty) {
        // The data goes; nodes.conf stays, so the node rejoins as itself with nothing in it.
        rmSync(join(dir, "appendonlydir"), { recursive: true, force: true });
        rmSync(join(dir, "dump.rdb"), { force: true });
      }
      mkdirSync(dir, { recursive: true });
      const c = spawnManaged("redis-server", args(), { stdio: "ignore" });
      child = c;
      exited = new Promise((r) => c.once("exit", () => r()));
      await waitUntil(`redis-server :${port}`, async () => (await clusterInfo(port)) !== null, 15_000, c);
    },
    async stop() {
      if (child) await stopChild(child);
    },
  };
}
