import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { MIGRATIONS_DIR, migrateDatabase } from "../../apps/core/db/client.js";
import { startStack } from "../../infra/stack.js";
import { precreateDatabase, TEST_DATABASE_COLLATION } from "./env.js";

declare module "vitest" {
  export interface ProvidedContext {
    stack: {
      /** A `redis://` URL, or a cluster's seed nodes `host:port,...` when `redisCluster`. */
      redisTarget: string;
      redisCluster: boolean;
      databaseUrl: string;
      kafkaBrokers: string;
      kafkaControl?: string;
    };
  }
}

/**
 * One embedded stack for the whole run: Redis and MariaDB reused from the machine (or started),
 * a Kafka mock of our own. Tests use their own database (`seckill_test_<schema version>`, with
 * TEST_DATABASE_COLLATION=<collation> `..._<collation>` pre-created with that default), random Redis key
 * prefixes and their own topics, so they never touch a developer's data. TEST_REDIS_MODE=cluster
 * (npm run test:cluster) runs them on the local Redis cluster instead of one server.
 */
export default async function setup(project: TestProject) {
  // With TEST_DATABASE_COLLATION the shared database is one of its own, pre-created with that default.
  const collation = TEST_DATABASE_COLLATION;
  const database = `seckill_test_${schemaVersion()}${collation ? `_${collation}` : ""}`;
  const cluster = process.env.TEST_REDIS_MODE === "cluster";
  const stack = await startStack({
    database,
    kafkaBrokers: 3,
    topicPrefix: "test.",
    env: { ...process.env, REDIS_MODE: cluster ? "cluster" : "single" },
  });
  if (collation) await precreateDatabase(stack.databaseUrl, collation);
  await migrateDatabase(stack.databaseUrl);
  const redisTarget = stack.redisClusterNodes ?? stack.redisUrl;
  if (!redisTarget) throw new Error("the stack provided no Redis");
  project.provide("stack", {
    redisTarget,
    redisCluster: stack.redisClusterNodes !== undefined,
    databaseUrl: stack.databaseUrl,
    kafkaBrokers: stack.kafkaBrokers,
    kafkaControl: stack.kafkaControl,
  });
  return async () => {
    await stack.stop();
  };
}

/**
 * A short hash of the committed migrations. The test database is named after it, so checkouts
 * of the project with different schemas (branches, worktrees) sharing one MariaDB never apply
 * their migrations to each other's database.
 */
function schemaVersion(): string {
  const journal = readFileSync(join(MIGRATIONS_DIR, "meta/_journal.json"), "utf8");
  const tags = (JSON.parse(journal) as { entries: { tag: string }[] }).entries.map((e) => e.tag);
  const hash = createHash("sha256");
  for (const tag of tags) hash.update(readFileSync(join(MIGRATIONS_DIR, `${tag}.sql`)));
  return hash.digest("hex").slice(0, 10);
}
