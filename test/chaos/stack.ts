import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { migrateDatabase } from "../../apps/core/db/client.js";
import { topicSpecs } from "../../apps/core/kafka.js";
import { KafkaMockControl } from "../../infra/kafka-mock/control.js";
import { type KafkaMock, startKafkaMock } from "../../infra/kafka-mock/launch.js";
import { provideMysql } from "../../infra/mariadb-server.js";
import { provideRedis, redisAnswers } from "../../infra/redis-server.js";
import type { Provided } from "../../infra/stack.js";

/**
 * A stack of the chaos suite's own (redis-server with AOF, mariadbd, the Kafka mock), so a
 * scenario may kill or stop any of them. Each can be stopped and started again in place (same
 * port, same data).
 */
export interface ChaosStack {
  redisUrl: string;
  databaseUrl: string;
  kafka: KafkaMock;
  control: KafkaMockControl;
  /** SIGKILL (no fsync of Redis's last second) or SIGTERM, then start again on the same port and AOF. */
  restartRedis(opts: { kill: boolean; downMs?: number }): Promise<void>;
  stopMysql(): Promise<void>;
  startMysql(): Promise<void>;
  stop(): Promise<void>;
}

export async function startChaosStack(): Promise<ChaosStack> {
  const dataDir = mkdtempSync(join(tmpdir(), "seckill-chaos-"));
  let redis: Provided = await provideRedis({ dataDir, reuseDefault: false });
  let mysql: Provided | undefined = await provideMysql({ dataDir, reuseDefault: false });
  const redisPort = Number(new URL(redis.url).port);
  const mysqlPort = Number(new URL(mysql.url).port);
  const kafka = await startKafkaMock({ brokers: 3, topics: topicSpecs() });
  const databaseUrl = `${mysql.url}seckill`;
  await migrateDatabase(databaseUrl);
  const control = new KafkaMockControl(kafka.control);
  return {
    redisUrl: redis.url,
    databaseUrl,
    kafka,
    control,
    async restartRedis({ kill, downMs = 0 }) {
      if (kill && redis.pid) process.kill(redis.pid, "SIGKILL");
      else await redis.stop();
      // SIGKILL: wait for the exit so the port is free again.
      for (let i = 0; i < 100 && (await redisAnswers(redis.url)); i++) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, downMs));
      redis = await provideRedis({ dataDir, reuseDefault: false, port: redisPort });
    },
    async stopMysql() {
      await mysql?.stop();
      mysql = undefined;
    },
    async startMysql() {
      mysql ??= await provideMysql({ dataDir, reuseDefault: false, port: mysqlPort });
    },
    async stop() {
      control.close();
      await kafka.stop();
      await mysql?.stop();
      await redis.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
