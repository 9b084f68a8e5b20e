import { type Consumer, type ConsumerConfig, Kafka, type LogEntry, logLevel, Partitioners, type Producer } from "kafkajs";
import type { Logger } from "./logger.js";

export type { Consumer, Producer };

/** The platform's topics, with an optional prefix so tests and tenants can have their own. */
export function topicNames(prefix = "") {
  return {
    orders: `${prefix}seckill.orders`,
    ordersDlq: `${prefix}seckill.orders.dlq`,
    payments: `${prefix}seckill.payments`,
    /** What happened to each order, for other systems (the outbox relay publishes it; key = order id). */
    orderEvents: `${prefix}seckill.order-events`,
  };
}
export type Topics = ReturnType<typeof topicNames>;

/** Partition counts the embedded launcher (and the compose file) create the topics with. */
export const TOPIC_PARTITIONS = { orders: 12, ordersDlq: 1, payments: 6, orderEvents: 6 } as const satisfies Record<keyof Topics, number>;

/** Every topic of the prefix with its partition count, for a launcher or a script that creates them. */
export function topicSpecs(prefix = ""): Record<string, number> {
  const names = topicNames(prefix);
  return Object.fromEntries((Object.keys(names) as (keyof Topics)[]).map((k) => [names[k], TOPIC_PARTITIONS[k]]));
}

const LEVELS: Record<number, "error" | "warn" | "info" | "debug"> = {
  [logLevel.ERROR]: "error",
  [logLevel.WARN]: "warn",
  [logLevel.INFO]: "info",
  [logLevel.DEBUG]: "debug",
};

/** Bridges kafkajs's logger into pino so Kafka's own complaints land in the same log stream. */
export function kafkaLogCreator(logger: Logger) {
  return () =>
    ({ level, log }: LogEntry) => {
      const { message, timestamp: _ts, logger: _l, ...rest } = log;
      // kafkajs logs every retried request at ERROR; they are the retry machinery, not an outage.
      const lvl = level === logLevel.ERROR && rest.retryCount !== undefined ? "warn" : (LEVELS[level] ?? "info");
      logger[lvl]({ ...rest, kafkaNamespace: log.namespace }, `kafka: ${message}`);
    };
}

export function createKafka(opts: { brokers: string[]; clientId: string; logger: Logger }): Kafka {
  return new Kafka({
    clientId: opts.clientId,
    brokers: opts.brokers,
    logLevel: process.env.KAFKAJS_DEBUG ? logLevel.DEBUG : logLevel.WARN,
    logCreator: kafkaLogCreator(opts.logger.child({ component: "kafkajs" })),
    connectionTimeout: 3000,
    // kafkajs's own retries only ride out blips (about 6 s in all); the durable retry of an
    // accepted order is the handoff relay, which keeps trying for as long as Kafka is away.
    retry: { initialRetryTime: 200, retries: 5 },
  });
}

/**
 * A producer for the platform's topics. acks:-1 is passed on every send. It is not
 * `idempotent: true`: the embedded mock cannot serve InitProducerId (and real-cluster duplicates
 * are harmless, because the order writer is idempotent on the order id).
 */
export function createProducer(kafka: Kafka): Producer {
  return kafka.producer({
    allowAutoTopicCreation: false,
    idempotent: false,
    maxInFlightRequests: 5,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
}

/**
 * A consumer for the platform's topics. kafkajs heartbeats between fetches, so the fetch wait
 * stays well below the session timeout; callers run it with autoCommit off and commit an offset
 * only after its work is durable.
 */
export function createConsumer(kafka: Kafka, config: ConsumerConfig & { sessionTimeout: number; maxWaitTimeInMs: number }): Consumer {
  return kafka.consumer({
    allowAutoTopicCreation: false,
    heartbeatInterval: heartbeatEvery(config.sessionTimeout),
    ...config,
  });
}

/** The heartbeat interval for a session timeout: five chances before the coordinator gives up on a member. */
export function heartbeatEvery(sessionTimeoutMs: number): number {
  return Math.max(100, Math.floor(sessionTimeoutMs / 5));
}

/** Consumer timing from the config (session timeout and fetch wait). */
export function consumerTiming(config: { KAFKA_SESSION_TIMEOUT_MS: number; KAFKA_FETCH_MAX_WAIT_MS: number }) {
  return { sessionTimeout: config.KAFKA_SESSION_TIMEOUT_MS, maxWaitTimeInMs: config.KAFKA_FETCH_MAX_WAIT_MS };
}

/**
 * A producer that (re)connects on demand: Kafka may be away when a process starts, and sends
 * must then fail fast and be retried by their caller, not crash the process. Concurrent callers
 * share one connection attempt.
 */
export function connectedProducer(producer: Producer) {
  let isConnected = false;
  let connecting: Promise<void> | undefined;
  producer.on(producer.events.CONNECT, () => {
    isConnected = true;
  });
  producer.on(producer.events.DISCONNECT, () => {
    isConnected = false;
  });
  return {
    producer,
    ensureConnected(): Promise<void> {
      if (isConnected) return Promise.resolve();
      connecting ??= producer.connect().finally(() => {
        connecting = undefined;
      });
      return connecting;
    },
    async send(record: Parameters<Producer["send"]>[0]) {
      await this.ensureConnected();
      return producer.send(record);
    },
    disconnect: () => producer.disconnect(),
  };
}
export type ConnectedProducer = ReturnType<typeof connectedProducer>;

export { consumerLag, keepingMembership, MembershipLost, type StallWatchdog, supervisedConsumer } from "./kafka-consumer.js";
