import { consumerTiming } from "../core/kafka.js";
import { type Services, sharedKafkaAdmin } from "../core/services.js";
import { createLoyaltyConsumer, type LoyaltyConsumer } from "./consumer.js";
import { migrateLoyalty } from "./db/migrate.js";

/** Applies the ledger's migrations and starts its consumer on the platform's clients. */
export async function startLoyalty(
  services: Services,
  opts: Pick<Parameters<typeof createLoyaltyConsumer>[0], "onApplied"> = {},
): Promise<LoyaltyConsumer> {
  const { config } = services;
  await migrateLoyalty(config.DATABASE_URL!);
  const consumer = createLoyaltyConsumer({
    kafka: services.kafka,
    topic: services.topics.orderEvents,
    groupId: config.LOYALTY_GROUP_ID,
    database: services.database,
    logger: services.logger,
    registry: services.registry,
    foreground: services.foreground,
    timing: consumerTiming(config),
    kafkaAdmin: sharedKafkaAdmin(services),
    onRestart: (reason) => services.metrics.consumerRestarts.inc({ consumer: "loyalty", reason }),
    ...opts,
  });
  await consumer.start();
  return consumer;
}
