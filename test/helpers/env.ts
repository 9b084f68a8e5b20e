import { randomBytes } from "node:crypto";
import mysql from "mysql2/promise";
import { inject } from "vitest";
import { type Config, loadConfig } from "../../apps/core/config.js";
import { migrateDatabase } from "../../apps/core/db/client.js";
import { TOPIC_PARTITIONS, topicNames } from "../../apps/core/kafka.js";
import { createLogger } from "../../apps/core/logger.js";
import { createServices, type Services } from "../../apps/core/services.js";
import { KafkaMockControl } from "../../infra/kafka-mock/control.js";
import { type KafkaMock, startKafkaMock } from "../../infra/kafka-mock/launch.js";

/**
 * A Kafka mock of the caller's own, for tests that inject cluster-wide faults (brokers down,
 * request errors): on the shared mock those faults would hit every test file running alongside.
 */
export function privateKafka(brokers = 1): Promise<KafkaMock> {
  return startKafkaMock({ brokers, topics: {} });
}

export const randomId = (prefix = "") => `${prefix}${randomBytes(6).toString("hex")}`;

export function stackInfo() {
  return inject("stack");
}

/** The shared mock's control channel, or that of a private mock. */
export function kafkaControl(mock?: KafkaMock): KafkaMockControl {
  const address = mock?.control ?? stackInfo().kafkaControl;
  if (!address) throw new Error("this test needs the embedded Kafka mock (KAFKA_BROKERS was set)");
  return new KafkaMockControl(address);
}

/**
 * A config pointing at the test stack, with a Redis key prefix and Kafka topics of this test's
 * own (created on the mock), so tests run side by side without seeing each other's data.
 */
/**
 * The default collation test databases are pre-created with, as a DBA would create them before
 * the platform first runs (`TEST_DATABASE_COLLATION`, e.g. `utf8mb4_general_ci`: run the suite
 * against a case-insensitive default). Unset: the platform creates them itself (utf8mb4_bin).
 */
export const TEST_DATABASE_COLLATION = process.env.TEST_DATABASE_COLLATION || undefined;

/** Creates the database with that default collation (before migrations create the tables in it). */
export async function precreateDatabase(url: string, collation: string): Promise<void> {
  if (!/^[a-z0-9_]+$/.test(collation)) throw new Error(`not a collation name: ${collation}`);
  const name = new URL(url).pathname.slice(1);
  const conn = await mysql.createConnection({ uri: url.replace(/[^/]+$/, "") });
  try {
    await conn.query(`CREATE DATABASE IF NOT EXISTS \`${name}\` CHARACTER SET utf8mb4 COLLATE ${collation}`);
  } finally {
    await conn.end();
  }
}

/**
 * A database of the caller's own (migrated), for components that scan whole tables (expiry,
 * reconcile): in the shared test database they would meet every other test's orders. Returns
 * its URL and a drop function (it is ours to drop). `collation`: pre-create it with that default
 * (default TEST_DATABASE_COLLATION).
 */
export async function ownDatabase(opts: { collation?: string } = {}): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  const name = randomId("seckill_t_");
  const url = stackInfo().databaseUrl.replace(/[^/]+$/, name);
  const collation = opts.collation ?? TEST_DATABASE_COLLATION;
  if (collation) await precreateDatabase(url, collation);
  await migrateDatabase(url);
  return {
    url,
    name,
    async drop() {
      const conn = await mysql.createConnection({ uri: stackInfo().databaseUrl });
      await conn.query(`DROP DATABASE IF EXISTS \`${name}\``);
      await conn.end();
    },
  };
}

export async function testConfig(overrides: Record<string, string> = {}, kafka?: KafkaMock): Promise<Config> {
  const s = { ...stackInfo(), ...(kafka ? { kafkaBrokers: kafka.url, kafkaControl: kafka.control } : {}) };
  const id = randomId();
  const config = loadConfig({
    NODE_ENV: "test",
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
    ...(s.redisCluster ? { REDIS_CLUSTER_NODES: s.redisTarget } : { REDIS_URL: s.redisTarget }),
    DATABASE_URL: s.databaseUrl,
    KAFKA_BROKERS: s.kafkaBrokers,
    REDIS_KEY_PREFIX: `test:${id}:`,
    KAFKA_TOPIC_PREFIX: `t${id}.`,
    ORDER_WRITER_GROUP_ID: `writer-${id}`,
    LOYALTY_GROUP_ID: `loyalty-${id}`,
    // The mock's group coordinator waits (session timeout - 1 s) for a member that left: keep it short.
    KAFKA_SESSION_TIMEOUT_MS: "3000",
    KAFKA_FETCH_MAX_WAIT_MS: "100",
    ...overrides,
  });
  // Topics of a prefix this call made up; a given prefix shares another config's topics.
  if (s.kafkaControl && !overrides.KAFKA_TOPIC_PREFIX) {
    const control = new KafkaMockControl(s.kafkaControl);
    const names = topicNames(config.KAFKA_TOPIC_PREFIX);
    try {
      await control.createTopic(names.orders, 4);
      await control.createTopic(names.ordersDlq, TOPIC_PARTITIONS.ordersDlq);
      await control.createTopic(names.payments, 2);
      await control.createTopic(names.orderEvents, 3);
    } finally {
      control.close();
    }
  }
  return config;
}

export async function testServices(overrides: Record<string, string> = {}, kafka?: KafkaMock): Promise<Services> {
  const config = await testConfig(overrides, kafka);
  return createServices(config, createLogger({ level: config.LOG_LEVEL }));
}
