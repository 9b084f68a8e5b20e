import { topicSpecs } from "../apps/core/kafka.js";
import { PROJECT_ROOT } from "../apps/core/paths.js";
import { startKafkaMock } from "./kafka-mock/launch.js";
import { mysqlAnswers, provideMysql } from "./mariadb-server.js";
import { provideRedisCluster } from "./redis-cluster.js";
import { DEFAULT_REDIS_URL, provideRedis, redisAnswers } from "./redis-server.js";

/** A service the stack provides: where it is, and whether it came from env, was reused or started here. */
export interface Provided {
  url: string;
  source: "env" | "reused" | "started";
  pid?: number;
  stop(): Promise<void>;
}

export interface StackOptions {
  /**
   * REDIS_URL (or REDIS_CLUSTER_NODES), DATABASE_URL and KAFKA_BROKERS are honoured from here
   * when set; REDIS_MODE=cluster with no REDIS_* starts (or reuses) the local Redis cluster.
   */
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
  /** One Redis server, or (REDIS_CLUSTER_NODES / REDIS_MODE=cluster) none and `redisClusterNodes`. */
  redisUrl?: string;
  /** A Redis Cluster's seed nodes, `host:port,...`. */
  redisClusterNodes?: string;
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
    const clusterNodes = blank(env.REDIS_CLUSTER_NODES);
    const cluster = clusterNodes !== undefined || (blank(env.REDIS_URL) === undefined && env.REDIS_MODE === "cluster");
    const [redis, mysql] = await Promise.all([
      cluster
        ? provideRedisCluster({ nodes: clusterNodes, dataDir, reuseDefault })
        : provideRedis({ url: blank(env.REDIS_URL), dataDir, reuseDefault }),
      provideMysql({ url: blank(env.DATABASE_URL), dataDir, reuseDefault }),
    ]);
    started.push(redis, mysql);
    let kafka: Provided & { control?: string };
    const brokers = blank(env.KAFKA_BROKERS);
    if (brokers) kafka = { url: brokers, source: "env", stop: async () => {} };
    else {
      kafka = await startKafkaMock({
        brokers: opts.kafkaBrokers ?? 3,
        topics: topicSpecs(opts.topicPrefix ?? blank(env.KAFKA_TOPIC_PREFIX) ?? ""),
      });
    }
    started.push(kafka);
    let databaseUrl = mysql.url;
    if (mysql.source !== "env") databaseUrl = `${mysql.url.replace(/\/$/, "")}/${opts.database ?? "seckill"}`;
    return {
      ...(cluster ? { redisClusterNodes: redis.url } : { redisUrl: redis.url }),
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

/** The command that starts the shared services for components run as separate processes. */
export const STACK_COMMAND = "npm run stack";

/** A component started on its own found a shared service unset; the message says what to run. */
export class SharedServicesMissing extends Error {
  constructor(readonly missing: string[]) {
    super(
      `${missing.join(", ")} ${missing.length > 1 ? "are" : "is"} not set, and a component started on its own never starts a ` +
        "private server: a Kafka (or Redis) of its own would accept orders that no other component ever sees. " +
        `Start the shared services once, in another terminal: \`${STACK_COMMAND}\`; then export the lines it prints ` +
        "(or `source .data/stack.env`) and start this component again. To run everything in one process instead: `npm start`.",
    );
  }
}

/**
 * The stack of a component started on its own (`npx tsx apps/<app>/main.ts`): each service from
 * the environment, or Redis and MariaDB reused from their default local ports (which every
 * process on the machine shares). Unlike startStack it never starts a server: two components
 * each with a private Kafka would lose every order quietly (the gateway and API accept them, no
 * writer reads them). What is missing is refused (SharedServicesMissing) with the command that
 * starts the shared services (`npm run stack`, infra/stack-main.ts).
 */
export async function standaloneStack(opts: Pick<StackOptions, "env" | "database"> = {}): Promise<Stack> {
  const env = opts.env ?? process.env;
  const blank = (v?: string) => (v && v.trim() !== "" ? v : undefined);
  const reusedMysql = "mysql://root@127.0.0.1:3306/";
  const clusterNodes = blank(env.REDIS_CLUSTER_NODES);
  const [redis, mysql] = await Promise.all([
    clusterNodes
      ? { url: clusterNodes, source: "env" as const }
      : blank(env.REDIS_URL)
        ? { url: env.REDIS_URL!, source: "env" as const }
        : redisAnswers(DEFAULT_REDIS_URL).then((ok) => (ok ? { url: DEFAULT_REDIS_URL, source: "reused" as const } : undefined)),
    blank(env.DATABASE_URL)
      ? { url: env.DATABASE_URL!, source: "env" as const }
      : mysqlAnswers(reusedMysql).then((ok) =>
          ok ? { url: `${reusedMysql}${opts.database ?? "seckill"}`, source: "reused" as const } : undefined,
        ),
  ]);
  const brokers = blank(env.KAFKA_BROKERS);
  const missing = [...(redis ? [] : ["REDIS_URL"]), ...(mysql ? [] : ["DATABASE_URL"]), ...(brokers ? [] : ["KAFKA_BROKERS"])];
  if (!redis || !mysql || !brokers) throw new SharedServicesMissing(missing);
  return {
    ...(clusterNodes ? { redisClusterNodes: redis.url } : { redisUrl: redis.url }),
    databaseUrl: mysql.url,
    kafkaBrokers: brokers,
    sources: { redis: redis.source, mysql: mysql.source, kafka: "env" },
    stop: async () => {},
  };
}
