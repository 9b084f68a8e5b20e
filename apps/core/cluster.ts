import cluster, { type Worker } from "node:cluster";
import { availableParallelism } from "node:os";
import { AggregatorRegistry, type Registry } from "prom-client";

type MetricsJson = Awaited<ReturnType<Registry["getMetricsAsJSON"]>>;

import type { Logger } from "./logger.js";

/**
 * Using every core for HTTP. Node runs a process's JavaScript on one core, and at the peak of a
 * sale the edge (JWT, limits, writing answers) is CPU-bound, so HTTP_WORKERS > 1 forks that many
 * worker processes that share the listening port (node:cluster hands each accepted connection
 * to one worker; keep-alive connections stay with it). The primary keeps what must not be
 * multiplied: the embedded stack, the Kafka consumers, the admin listener.
 *
 * Every worker's state is already safe to run side by side: sold-out flags come from Redis
 * pub/sub, the handoff relay holds a lease, limits live in Redis (the in-memory block is only
 * a cache of a Redis decision).
 */
export const isHttpWorker = cluster.isWorker;

/** HTTP_WORKERS as a count: "auto" is one per core. */
export function workerCount(setting: number | "auto"): number {
  return setting === "auto" ? availableParallelism() : setting;
}

/** The environment for workers: the primary's, with the service addresses it resolved (so no worker starts a stack). */
export function workerEnv(config: { REDIS_URL?: string; REDIS_CLUSTER_NODES?: string; DATABASE_URL?: string; KAFKA_BROKERS?: string }) {
  return {
    ...process.env,
    REDIS_URL: config.REDIS_URL,
    REDIS_CLUSTER_NODES: config.REDIS_CLUSTER_NODES,
    DATABASE_URL: config.DATABASE_URL,
    KAFKA_BROKERS: config.KAFKA_BROKERS,
  };
}

type Message =
  | { seckill: "stop" }
  | { seckill: "metrics"; id: number }
  | { seckill: "metrics-json"; id: number }
  | { seckill: "metrics-reply"; id: number; text: string }
  | { seckill: "metrics-json-reply"; id: number; json: MetricsJson };

const isMessage = (m: unknown): m is Message => typeof m === "object" && m !== null && "seckill" in m;

export interface WorkerPool {
  /** Resolves with the shared port once every worker listens. */
  ready: Promise<number>;
  /** The sum over every process (this one and each worker), as /metrics text (for the OPS_PORT listener). */
  metrics(): Promise<string>;
  /** Asks every worker to stop (each drains like a single process would); SIGKILL after the deadline. */
  stop(deadlineMs?: number): Promise<void>;
}

/**
 * Forks `count` HTTP workers running this same entry point with `env` (the primary's resolved
 * service addresses, so no worker starts a stack of its own). A worker that dies is replaced,
 * with a growing pause when it keeps dying. The primary also answers workers' /metrics with the
 * sum over every process (its own registry included), so a scrape through the shared port sees
 * the whole platform, not one random worker.
 */
export function forkHttpWorkers(opts: {
  count: number;
  env: Record<string, string | undefined>;
  logger: Logger;
  registry: Registry;
}): WorkerPool {
  const { count, env, logger, registry } = opts;
  let stopping = false;
  let crashes = 0;
  let lastCrashAt = 0;
  let resolveReady: (port: number) => void = () => {};
  let rejectReady: (err: Error) => void = () => {};
  const ready = new Promise<number>((res, rej) => {
    resolveReady = res;
    rejectReady = rej;
  });
  const listening = new Set<number>();
  let nextId = 0;
  const pending = new Map<number, (json: MetricsJson) => void>();

  const fork = () => {
    const worker = cluster.fork(env);
    worker.on("message", (m: unknown) => {
      if (isMessage(m)) void answer(worker, m);
    });
    return worker;
  };

  async function workerMetrics(w: Worker): Promise<MetricsJson> {
    const id = nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        pending.delete(id);
        resolve([]); // a worker too busy to answer within 2 s is left out of this scrape rather than failing it
      }, 2000);
      pending.set(id, (json) => {
        clearTimeout(timer);
        pending.delete(id);
        resolve(json);
      });
      w.send({ seckill: "metrics-json", id } satisfies Message);
    });
  }

  async function aggregate(): Promise<string> {
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w?.isConnected());
    const all = [await registry.getMetricsAsJSON(), ...(await Promise.all(workers.map(workerMetrics)))];
    return AggregatorRegistry.aggregate(all).metrics();
  }

  async function answer(from: Worker, m: Message) {
    if (m.seckill === "metrics-json-reply") pending.get(m.id)?.(m.json);
    if (m.seckill !== "metrics") return;
    const text = await aggregate();
    if (from.isConnected()) from.send({ seckill: "metrics-reply", id: m.id, text } satisfies Message);
  }

  cluster.on("listening", (worker, address) => {
    listening.add(worker.id);
    if (listening.size === count) resolveReady(address.port);
  });
  cluster.on("exit", (worker, code, signal) => {
    listening.delete(worker.id);
    if (stopping) return;
    // The pause grows while workers keep dying and starts over after a quiet minute.
    if (Date.now() - lastCrashAt > 60_000) crashes = 0;
    lastCrashAt = Date.now();
    crashes++;
    const pauseMs = Math.min(30_000, 500 * 2 ** Math.min(crashes, 6));
    logger.error(
      { workerPid: worker.process.pid, code, signal, restartInMs: pauseMs },
      "HTTP worker died; its connections were dropped (clients retry) and a new worker starts shortly. Look for its last log lines above.",
    );
    if (listening.size === 0 && crashes >= count * 3) rejectReady(new Error("HTTP workers keep dying before they listen"));
    setTimeout(() => {
      if (!stopping) fork();
    }, pauseMs).unref();
  });
  for (let i = 0; i < count; i++) fork();

  return {
    ready,
    metrics: aggregate,
    async stop(deadlineMs = 15_000) {
      stopping = true;
      const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w);
      await Promise.all(
        workers.map(
          (w) =>
            new Promise<void>((resolve) => {
              if (w.isDead()) return resolve();
              const timer = setTimeout(() => w.process.kill("SIGKILL"), deadlineMs);
              w.once("exit", () => {
                clearTimeout(timer);
                resolve();
              });
              // A worker still starting has nothing to drain and no handler for the message yet.
              if (listening.has(w.id)) w.send({ seckill: "stop" } satisfies Message);
              else w.process.kill("SIGTERM");
            }),
        ),
      );
    },
  };
}

/**
 * In a worker: what /metrics serves (the primary's sum over every process), and the answer to
 * the primary's request for this worker's own figures.
 */
export function workerMetricsSource(registry: Registry): () => Promise<string> {
  let source = sources.get(registry);
  if (!source) {
    source = metricsSource(registry);
    sources.set(registry, source);
  }
  return source;
}
const sources = new WeakMap<Registry, () => Promise<string>>();

function metricsSource(registry: Registry): () => Promise<string> {
  let nextId = 0;
  const waiting = new Map<number, (text: string) => void>();
  process.on("message", (m: unknown) => {
    if (!isMessage(m)) return;
    if (m.seckill === "metrics-reply") waiting.get(m.id)?.(m.text);
    if (m.seckill === "metrics-json")
      void registry.getMetricsAsJSON().then((json) => process.send?.({ seckill: "metrics-json-reply", id: m.id, json } satisfies Message));
  });
  return () =>
    new Promise<string>((resolve) => {
      const id = nextId++;
      const timer = setTimeout(() => {
        waiting.delete(id);
        void registry.metrics().then(resolve); // primary unresponsive: this worker's own figures beat nothing
      }, 5000);
      waiting.set(id, (text) => {
        clearTimeout(timer);
        waiting.delete(id);
        resolve(text);
      });
      process.send?.({ seckill: "metrics", id } satisfies Message);
    });
}
