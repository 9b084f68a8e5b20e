import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { Redis } from "ioredis";
import mysql from "mysql2/promise";
import { afterAll, describe, expect, it } from "vitest";
import { createKafka, createProducer, topicNames } from "../../apps/core/kafka.js";
import { createLogger } from "../../apps/core/logger.js";
import { mysqlAnswers } from "../../infra/mariadb-server.js";
import { spawnManaged } from "../../infra/processes.js";
import { redisAnswers } from "../../infra/redis-server.js";
import { startStack } from "../../infra/stack.js";
import { stackInfo } from "../helpers/env.js";
import { eventually } from "../helpers/wait.js";

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), "seckill-stack-"));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("embedded stack", () => {
  it("comes up from nothing: starts its own Redis (AOF on), MariaDB and Kafka, and stops them", async () => {
    const dataDir = tempDir();
    const stack = await startStack({ reuseDefaultPorts: false, dataDir, database: "seckill_fresh", kafkaBrokers: 1 });
    try {
      expect(stack.sources).toEqual({ redis: "started", mysql: "started", kafka: "started" });
      expect(stack.redisUrl).not.toBe("redis://127.0.0.1:6379");

      const redis = new Redis(stack.redisUrl ?? "");
      expect(await redis.config("GET", "appendonly")).toEqual(["appendonly", "yes"]);
      expect(await redis.config("GET", "dir")).toEqual(["dir", join(dataDir, "redis")]);
      await redis.quit();

      const conn = await mysql.createConnection({ uri: stack.databaseUrl.replace(/\/seckill_fresh$/, "/") });
      const [rows] = await conn.query("SELECT @@datadir AS d");
      expect((rows as { d: string }[])[0].d).toBe(`${join(dataDir, "mariadb")}/`);
      await conn.end();

      const kafka = createKafka({
        brokers: stack.kafkaBrokers.split(","),
        clientId: "stack-test",
        logger: createLogger({ level: "silent" }),
      });
      const producer = createProducer(kafka);
      await producer.connect();
      const [ack] = await producer.send({ topic: topicNames().orders, acks: -1, messages: [{ value: "hello" }] });
      expect(ack.errorCode).toBe(0);
      await producer.disconnect();
    } finally {
      await stack.stop();
    }
    expect(await redisAnswers(stack.redisUrl ?? "")).toBe(false);
    expect(await mysqlAnswers(stack.databaseUrl)).toBe(false);
  });

  it("reuses the servers already answering on the default ports and honours URLs from the environment", async () => {
    const reused = await startStack({ dataDir: tempDir(), kafkaBrokers: 1 });
    try {
      expect(reused.sources.redis).toBe("reused");
      expect(reused.sources.mysql).toBe("reused");
      expect(reused.redisUrl).toBe("redis://127.0.0.1:6379");
    } finally {
      await reused.stop();
    }
    const s = stackInfo();
    const fromEnv = await startStack({ env: { REDIS_URL: s.redisTarget, DATABASE_URL: s.databaseUrl, KAFKA_BROKERS: s.kafkaBrokers } });
    expect(fromEnv.sources).toEqual({ redis: "env", mysql: "env", kafka: "env" });
    expect(fromEnv.databaseUrl).toBe(s.databaseUrl);
    await fromEnv.stop();
    // Reused and configured servers are never stopped by us.
    expect(await redisAnswers("redis://127.0.0.1:6379")).toBe(true);
  });

  it("leaves no child process behind when its parent is killed with SIGKILL", async () => {
    const dataDir = tempDir();
    // The holder itself dies with this test process, even if the test is interrupted.
    const holder = spawnManaged(
      process.execPath,
      [
        "--import",
        "tsx",
        "-e",
        `import("./infra/stack.ts").then(async ({ startStack }) => {
           const s = await startStack({ reuseDefaultPorts: false, dataDir: ${JSON.stringify(dataDir)}, kafkaBrokers: 1 });
           console.log("URLS " + JSON.stringify({ redis: s.redisUrl, mysql: s.databaseUrl.replace(/[^/]+$/, "") }));
           setInterval(() => {}, 1000);
         })`,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    // Its exit event, not kill(pid, 0): a killed child stays a zombie (and "alive") until reaped.
    const holderSignal = new Promise<NodeJS.Signals | null>((resolve) => holder.once("exit", (_code, signal) => resolve(signal)));
    const urls = await new Promise<{ redis: string; mysql: string }>((resolve, reject) => {
      createInterface({ input: holder.stdout! }).on("line", (l) => l.startsWith("URLS ") && resolve(JSON.parse(l.slice(5))));
      holder.once("exit", (code) => reject(new Error(`holder exited early (${code})`)));
    });
    try {
      expect(await redisAnswers(urls.redis)).toBe(true);
      expect(await mysqlAnswers(urls.mysql)).toBe(true);
    } finally {
      holder.kill("SIGKILL");
    }
    await eventually(
      "started redis-server and mariadbd stop after the parent died",
      async () => {
        return !(await redisAnswers(urls.redis)) && !(await mysqlAnswers(urls.mysql));
      },
      30_000,
      200,
    );
    expect(await holderSignal).toBe("SIGKILL");
  });
});
