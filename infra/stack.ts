import { TOPIC_PARTITIONS, topicNames } from "../apps/core/kafka.js";
import { PROJECT_ROOT } from "../apps/core/paths.js";
import { startKafkaMock } from "./kafka-mock/launch.js";
import { provideMysql } from "./mariadb-server.js";
import { provideRedis } from "./redis-server.js";

/** A service the stack provides: where it is, and whether it came from env, was reused or started here. */
export interface Provided {
  url: string;
  source: "env" | "reused" | "started";
  pid?: number;
  stop(): Promise<void>;
}

export interface StackOptions {
  /** REDIS_URL, DATABASE_URL and KAFKA_BROKERS are honoured from here when set. */
  env?: Record<string, string | undefined>;
  /** Where started servers keep their data. Default: `.data/` at the project root. */
  dataDir?: string;
  /** Reuse servers answering on the default ports (6379, 3306). Default true. */
  reuseDefaultPorts?: boolean;
  /** Database name used when DATABASE_URL is unset. */
  database?: string;
  kafkaBrokers?: number;
  topicPrefix?: string;
}

export interface Stack {
  redisUrl: string;
  databaseUrl: string;
  kafkaBrokers: string;
  /** Control address of the embedded Kafka mock (absent when KAFKA_BROKERS was given). */
  kafkaControl?: string;
  sources: { redis: Provided["source"]; mysql: Provided["source"]; kafka: Provided["source"] };
  stop(): Promise<void>;
}

export { PROJECT_ROOT };
export const DEFAULT_DATA_DIR = `${PROJECT_ROOT}.data`;

/**
 * Brings up what the platform needs: each service from the environment when configured,
 * otherwise reused from the default local port, otherwise started here (children die with us).
 */
export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const env = opts.env ?? process.env;
  const blank = (v?: string) => (v && v.trim() !== "" ? v : undefined);
  const dataDir = opts.dataDir ?? DEFAULT_DATA_DIR;
  const reuseDefault = opts.reuseDefaultPorts ?? true;
  const started: Provided[] = [];
  const stopAll = async () => {
    for (const p of started.reverse()) await p.stop();
  };
  try {
    const [redis, mysql] = await Promise.all([
      provideRedis({ url: blank(env.REDIS_URL), dataDir, reuseDefault }),
      provideMysql({ url: blank(env.DATABASE_URL), dataDir, reuseDefault }),
    ]);
    started.push(redis, mysql);
    let kafka: Provided & { control?: string };
    const brokers = blank(env.KAFKA_BROKERS);
    if (brokers) kafka = { url: brokers, source: "env", stop: async () => {} };
    else {
      const names = topicNames(opts.topicPrefix ?? blank(env.KAFKA_TOPIC_PREFIX) ?? "");
      kafka = await startKafkaMock({
        brokers: opts.kafkaBrokers ?? 3,
        topics: {
          [names.orders]: TOPIC_PARTITIONS.orders,
          [names.ordersDlq]: TOPIC_PARTITIONS.ordersDlq,
          [names.payments]: TOPIC_PARTITIONS.payments,
        },
      });
    }
    started.push(kafka);
    let databaseUrl = mysql.url;
    if (mysql.source !== "env") databaseUrl = `${mysql.url.replace(/\/$/, "")}/${opts.database ?? "seckill"}`;
    return {
      redisUrl: redis.url,
      databaseUrl,
      kafkaBrokers: kafka.url,
      kafkaControl: kafka.control,
      sources: { redis: redis.source, mysql: mysql.source, kafka: kafka.source },
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
