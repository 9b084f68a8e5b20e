import type { TestProject } from "vitest/node";
import { migrateDatabase } from "../../apps/core/db/client.js";
import { startStack } from "../../infra/stack.js";
import { precreateDatabase, TEST_DATABASE_COLLATION } from "./env.js";

declare module "vitest" {
  export interface ProvidedContext {
    stack: { redisUrl: string; databaseUrl: string; kafkaBrokers: string; kafkaControl?: string };
  }
}

/**
 * One embedded stack for the whole run: Redis and MariaDB reused from the machine (or started),
 * a Kafka mock of our own. Tests use their own database (`seckill_test`, or with
 * TEST_DATABASE_COLLATION=<collation> `seckill_test_<collation>` pre-created with that default), random Redis key
 * prefixes and their own topics, so they never touch a developer's data.
 */
export default async function setup(project: TestProject) {
  // With TEST_DATABASE_COLLATION the shared database is one of its own, pre-created with that default.
  const collation = TEST_DATABASE_COLLATION;
  const database = collation ? `seckill_test_${collation}` : "seckill_test";
  const stack = await startStack({ database, kafkaBrokers: 3, topicPrefix: "test." });
  if (collation) await precreateDatabase(stack.databaseUrl, collation);
  await migrateDatabase(stack.databaseUrl);
  project.provide("stack", {
    redisUrl: stack.redisUrl,
    databaseUrl: stack.databaseUrl,
    kafkaBrokers: stack.kafkaBrokers,
    kafkaControl: stack.kafkaControl,
  });
  return async () => {
    await stack.stop();
  };
}
