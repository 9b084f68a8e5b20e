import { type Config, defaultSecretsInUse, loadConfigOrExit } from "./config.js";
import { migrateDatabase } from "./db/client.js";
import { createLogger, type Logger } from "./logger.js";
import { redactUrl, redisTarget } from "./redis.js";
import { createServices, type Services } from "./services.js";
import { startTracing } from "./tracing.js";

/**
 * Where the shared services are. Each main.ts passes infra/stack.ts's `startStack` (the embedded
 * stack for whatever the environment leaves unset), so this plumbing never imports infra/ and a
 * test or another deployment can hand in its own.
 */
export interface Stack {
  /** One Redis server; or a cluster's seed nodes in `redisClusterNodes`. */
  redisUrl?: string;
  redisClusterNodes?: string;
  databaseUrl: string;
  kafkaBrokers: string;
  /** Control address of an embedded Kafka mock, when one was started. */
  kafkaControl?: string;
  sources: { redis: string; mysql: string; kafka: string };
  stop(): Promise<void>;
}
export type StackProvider = (opts: { env: Record<string, string | undefined>; topicPrefix: string }) => Promise<Stack>;

export interface Booted {
  config: Config;
  logger: Logger;
  services: Services;
  stack: Stack;
}

/**
 * What every main.ts does first: validate the config (exit 1 listing every problem), bring up
 * the embedded stack for whatever REDIS_URL / DATABASE_URL / KAFKA_BROKERS leave unset, apply
 * migrations, and connect the shared clients.
 */
export async function bootstrap(
  name: string,
  startStack: StackProvider,
  env: Record<string, string | undefined> = process.env,
): Promise<Booted> {
  const base = loadConfigOrExit(env);
  const logger = createLogger({ level: base.LOG_LEVEL, name });
  await startTracing({
    endpoint: base.OTEL_EXPORTER_OTLP_ENDPOINT,
    serviceName: base.OTEL_SERVICE_NAME ?? name,
    ratio: base.OTEL_TRACES_SAMPLER_ARG,
    logger,
  });
  let stack: Stack;
  try {
    stack = await startStack({ env: base as unknown as Record<string, string | undefined>, topicPrefix: base.KAFKA_TOPIC_PREFIX });
  } catch (err) {
    // The provider's message says what to do (e.g. "run npm run stack"): say it plainly and stop.
    logger.fatal({ err }, `${name} cannot start: its services are not available`);
    process.stderr.write(`\n${name} cannot start: ${(err as Error).message}\n`);
    process.exit(1);
  }
  const config: Config = {
    ...base,
    REDIS_URL: stack.redisUrl,
    REDIS_CLUSTER_NODES: stack.redisClusterNodes,
    DATABASE_URL: stack.databaseUrl,
    KAFKA_BROKERS: stack.kafkaBrokers,
  };
  logger.info(
    {
      redis: `${redactUrl(redisTarget(config)!)} (${stack.sources.redis}${config.REDIS_CLUSTER_NODES ? ", cluster" : ""})`,
      mysql: `${redactUrl(config.DATABASE_URL!)} (${stack.sources.mysql})`,
      kafka: `${config.KAFKA_BROKERS} (${stack.sources.kafka}${stack.kafkaControl ? `, control ${stack.kafkaControl}` : ""})`,
    },
    "services resolved",
  );
  const unsafe = defaultSecretsInUse(config);
  if (unsafe.length > 0) {
    logger.warn(
      Object.fromEntries(unsafe.map((k) => [k, config[k]])),
      `development defaults in use for ${unsafe.join(", ")}; set them before any real sale (production refuses to start with them)`,
    );
  }
  await migrateDatabase(config.DATABASE_URL!);
  const services = createServices(config, logger);
  return { config, logger, services, stack };
}
