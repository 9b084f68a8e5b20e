import type { Admin, Kafka } from "kafkajs";
import type { Registry } from "prom-client";
import type { Config } from "./config.js";
import { createDatabase, type Database } from "./db/client.js";
import { createForeground, type Foreground } from "./foreground.js";
import { createKafka, type Topics, topicNames } from "./kafka.js";
import type { Logger } from "./logger.js";
import { createPlatformMetrics, createRegistry, type PlatformMetrics } from "./metrics.js";
import { createRedis, type Redis, redisTarget } from "./redis.js";

/**
 * The clients a process shares between its components. Built once in a main.ts (or a test)
 * and passed into each `createX(deps)`; nothing else opens connections of its own.
 */
export interface Services {
  config: Config;
  logger: Logger;
  redis: Redis;
  database: Database;
  kafka: Kafka;
  topics: Topics;
  registry: Registry;
  metrics: PlatformMetrics;
  /** Purchases in flight in this process; background work yields to them (foreground.ts). */
  foreground: Foreground;
  /** Registers something to close with the clients (e.g. a Kafka admin made on demand). */
  onClose(fn: () => Promise<unknown>): void;
  close(): Promise<void>;
}

/** Requires the config's service URLs to be resolved (see infra/stack.ts for the embedded defaults). */
export function createServices(config: Config, logger: Logger, registry: Registry = createRegistry()): Services {
  const redisAt = redisTarget(config);
  if (!redisAt || !config.DATABASE_URL || !config.KAFKA_BROKERS) {
    throw new Error(
      "createServices needs REDIS_URL (or REDIS_CLUSTER_NODES), DATABASE_URL and KAFKA_BROKERS resolved (start the embedded stack first)",
    );
  }
  const redis = createRedis(redisAt, logger.child({ component: "redis" }));
  const database = createDatabase(config.DATABASE_URL, config.DATABASE_POOL_SIZE);
  const kafka = createKafka({ brokers: config.KAFKA_BROKERS.split(","), clientId: config.KAFKA_CLIENT_ID, logger });
  let closed: Promise<void> | undefined;
  const closers: (() => Promise<unknown>)[] = [];
  return {
    config,
    logger,
    redis,
    database,
    kafka,
    topics: topicNames(config.KAFKA_TOPIC_PREFIX),
    registry,
    metrics: createPlatformMetrics(registry),
    foreground: createForeground(config.BACKGROUND_YIELD_MS),
    onClose(fn) {
      closers.push(fn);
    },
    close() {
      closed ??= (async () => {
        await Promise.allSettled(closers.map((fn) => fn()));
        await Promise.allSettled([redis.quit(), database.close()]);
      })();
      return closed;
    },
  };
}

/** One connected Kafka admin client per Services, made on first use (stats, reconcile, lag). */
const admins = new WeakMap<Services, Promise<Admin>>();
export function sharedKafkaAdmin(services: Services): () => Promise<Admin> {
  return () => {
    let admin = admins.get(services);
    if (!admin) {
      const a = services.kafka.admin({ retry: { retries: 1 } });
      services.onClose(() => a.disconnect());
      admin = a.connect().then(
        () => a,
        (err) => {
          admins.delete(services);
          throw err;
        },
      );
      admins.set(services, admin);
    }
    return admin;
  };
}

/** Readiness checks shared by every app: each dependency must answer. */
export function dependencyChecks(services: Services, which: ("redis" | "mysql" | "kafka")[] = ["redis", "mysql", "kafka"]) {
  const kafkaAdmin = sharedKafkaAdmin(services);
  const all = {
    redis: () => services.redis.ping(),
    mysql: () => services.database.pool.query("SELECT 1"),
    kafka: async () => (await kafkaAdmin()).fetchTopicMetadata({ topics: [services.topics.orders] }),
  };
  return Object.fromEntries(which.map((k) => [k, all[k]]));
}
