import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { migrateDatabase } from "../apps/core/db/client.js";
import { DEFAULT_DATA_DIR, startStack } from "./stack.js";

/**
 * `npm run stack [-- --write-env <path>]`: the embedded services, once, for components run as separate processes.
 * Starts (or reuses, or takes from the environment, as `npm start` does) Redis, MariaDB and the
 * Kafka mock with the platform's topics, applies the migrations, prints the `export` lines every
 * component needs and writes them to `.data/stack.env` (or the given file), then stays up until Ctrl-C (SIGINT or
 * SIGTERM), when it stops what it started and removes the file.
 */
const stack = await startStack();
await migrateDatabase(stack.databaseUrl);

const vars: Record<string, string> = {
  // REDIS_MODE=cluster: the local cluster's seed nodes instead of one server.
  ...(stack.redisClusterNodes ? { REDIS_CLUSTER_NODES: stack.redisClusterNodes } : { REDIS_URL: stack.redisUrl ?? "" }),
  DATABASE_URL: stack.databaseUrl,
  KAFKA_BROKERS: stack.kafkaBrokers,
};
if (process.env.KAFKA_TOPIC_PREFIX) vars.KAFKA_TOPIC_PREFIX = process.env.KAFKA_TOPIC_PREFIX;
const exports = Object.entries(vars)
  .map(([k, v]) => `export ${k}='${v}'`)
  .join("\n");
// --write-env <path>: somewhere else than .data/stack.env (the tests, so they never touch a developer's).
// (Not --env-file: node reads that one from anywhere on its command line.)
const flag = process.argv.indexOf("--write-env");
const envFile = flag > 0 && process.argv[flag + 1] ? process.argv[flag + 1] : join(DEFAULT_DATA_DIR, "stack.env");
mkdirSync(dirname(envFile), { recursive: true });
writeFileSync(envFile, `${exports}\n`);

process.stdout.write(
  `${exports}\n\n` +
    `# The shared services are up (redis: ${stack.sources.redis}, mysql: ${stack.sources.mysql}, kafka: ${stack.sources.kafka}` +
    `${stack.kafkaControl ? `, Kafka mock control ${stack.kafkaControl}` : ""}).\n` +
    `# In each terminal: source ${envFile}   (or paste the export lines above), then e.g.\n` +
    "#   PORT=3001 npx tsx apps/api/main.ts\n" +
    "#   PORT=3000 API_URL=http://127.0.0.1:3001 npx tsx apps/gateway/main.ts\n" +
    "#   PORT=3002 npx tsx apps/order-writer/main.ts\n" +
    "#   PORT=3003 npx tsx apps/lifecycle/main.ts\n" +
    "#   PORT=3004 npx tsx apps/admin/main.ts\n" +
    "# Ctrl-C stops the services this command started.\n",
);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  rmSync(envFile, { force: true });
  await stack.stop();
  process.exit(0);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
// Stay up: the Kafka mock keeps its topics in this process's child.
setInterval(() => {}, 1 << 30);
