import { type Admin, type Consumer, type ConsumerConfig, Kafka, type LogEntry, logLevel, Partitioners, type Producer } from "kafkajs";
import type { Logger } from "./logger.js";

export type { Consumer, Producer };

/** The platform's topics, with an optional prefix so tests and tenants can have their own. */
export function topicNames(prefix = "") {
  return {
    orders: `${prefix}seckill.orders`,
    ordersDlq: `${prefix}seckill.orders.dlq`,
    payments: `${prefix}seckill.payments`,
  };
}
export type Topics = ReturnType<typeof topicNames>;

/** Partition counts the embedded launcher (and the compose file) create the topics with. */
export const TOPIC_PARTITIONS = { orders: 12, ordersDlq: 1, payments: 6 } as const;

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
    heartbeatInterval: Math.max(100, Math.floor(config.sessionTimeout / 5)),
    ...config,
  });
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

/**
 * Messages of `topic` the group has not committed yet, summed over partitions (a partition the
 * group never committed counts from its start). Uses ListOffsets and OffsetFetch only, which
 * the embedded mock serves.
 */
export async function consumerLag(admin: Admin, groupId: string, topic: string): Promise<number> {
  const [ends, [committed]] = await Promise.all([admin.fetchTopicOffsets(topic), admin.fetchOffsets({ groupId, topics: [topic] })]);
  const byPartition = new Map(committed.partitions.map((p) => [p.partition, Number(p.offset)]));
  let lag = 0;
  for (const end of ends) {
    const c = byPartition.get(end.partition) ?? -1;
    lag += Math.max(0, Number(end.high) - (c >= 0 ? c : Number(end.low)));
  }
  return lag;
}

/**
 * A consumer that comes back. kafkajs restarts a consumer after retriable failures, but not
 * after a non-retriable one, such as "the coordinator is not aware of this member" when an
 * offset commit follows a session that expired during a broker outage: the process would stay
 * up, healthy-looking, consuming nothing. This recreates the consumer and rejoins the group
 * (what was not committed is redelivered; the consumers here are idempotent). `setup` subscribes
 * and runs the given consumer; `current()` is the live one.
 */
export function supervisedConsumer(opts: {
  create: () => Consumer;
  setup: (consumer: Consumer) => Promise<void>;
  logger: Logger;
  name: string;
  /**
   * Watchdog: checked every `stallCheckMs`; true means "work is waiting but nothing moved".
   * Two true answers in a row recreate the consumer. kafkajs can end up rejoining its group
   * over and over after some broker errors without ever fetching again; this gets it out.
   */
  stalled?: () => Promise<boolean>;
  stallCheckMs?: number;
}) {
  let consumer: Consumer | undefined;
  let stopping = false;
  let restarting: Promise<void> | undefined;
  let onJoin: () => void;
  const ready = new Promise<void>((resolve) => {
    onJoin = resolve;
  });

  async function boot(): Promise<void> {
    const c = opts.create();
    consumer = c;
    c.on(c.events.GROUP_JOIN, () => onJoin());
    c.on(c.events.CRASH, (event) => {
      if (stopping || event.payload.restart || c !== consumer) return;
      opts.logger.error(
        { consumer: opts.name, err: event.payload.error?.message },
        "kafka consumer crashed and kafkajs will not restart it: recreating it (uncommitted messages are redelivered)",
      );
      void restart();
    });
    await c.connect();
    await opts.setup(c);
  }

  function restart(): Promise<void> {
    restarting ??= (async () => {
      for (let attempt = 1; !stopping; attempt++) {
        await consumer?.disconnect().catch(() => {});
        await new Promise((r) => setTimeout(r, Math.min(5000, 500 * attempt)));
        if (stopping) return;
        try {
          await boot();
          opts.logger.warn({ consumer: opts.name, attempt }, "kafka consumer recreated");
          return;
        } catch (err) {
          opts.logger.error(
            { consumer: opts.name, err: (err as Error).message, attempt },
            "kafka consumer could not be recreated yet; retrying",
          );
        }
      }
    })().finally(() => {
      restarting = undefined;
    });
    return restarting;
  }

  let strikes = 0;
  let watchdog: NodeJS.Timeout | undefined;
  if (opts.stalled) {
    const stalled = opts.stalled;
    watchdog = setInterval(() => {
      if (stopping || restarting) return;
      stalled().then(
        (isStalled) => {
          strikes = isStalled ? strikes + 1 : 0;
          if (strikes >= 2) {
            strikes = 0;
            opts.logger.error({ consumer: opts.name }, "kafka consumer stalled with work waiting: recreating it");
            void restart();
          }
        },
        () => {}, // cannot tell (Kafka away): no verdict
      );
    }, opts.stallCheckMs ?? 5000);
    watchdog.unref();
  }

  return {
    current: (): Consumer => {
      if (!consumer) throw new Error(`${opts.name}: not started`);
      return consumer;
    },
    ready: () => ready,
    start: boot,
    async stop(): Promise<void> {
      stopping = true;
      if (watchdog) clearInterval(watchdog);
      await restarting;
      await consumer?.disconnect();
    },
  };
}
