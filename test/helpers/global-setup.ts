import type { TestProject } from "vitest/node";
import { migrateDatabase } from "../../apps/core/db/client.js";
import { startStack } from "../../infra/stack.js";

declare module "vitest" {
  export interface ProvidedContext {
    stack: { redisUrl: string; databaseUrl: string; kafkaBrokers: string; kafkaControl?: string };
  }
}

/**
 * One embedded stack for the whole run: Redis and MariaDB reused from the machine (or started),
 * a Kafka mock of our own. Tests use their own database (`seckill_test`), random Redis key
 * prefixes and their own topics, so they never touch a developer's data.
 */
export default async function setup(project: TestProject) {
  const stack = await startStack({ database: "seckill_test", kafkaBrokers: 3, topicPrefix: "test." });
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
