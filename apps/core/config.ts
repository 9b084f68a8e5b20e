import { z } from "zod";

/**
 * Configuration: environment variables only, one zod schema per concern, validated once at
 * start. Every problem is collected and reported together so an operator fixes them in one go.
 * Empty strings count as unset (a blank line in an env file must not become a value).
 */

/** Development secrets: they work out of the box locally and are refused in production. */
export const DEV_SECRETS = {
  JWT_SECRET: "dev-jwt-secret-change-me-0123456789abcdef",
  ADMIN_TOKEN: "dev-admin-token-change-me",
  PAYMENT_WEBHOOK_SECRET: "dev-payment-webhook-secret-change-me",
} as const;

const int = (def: number, min = 0, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max).default(def);
const port = (def: number) => int(def, 0, 65535);
/** A port that is undefined when unset (no default: `port(0).optional()` would turn unset into 0, a random port). */
const optionalPort = () => z.coerce.number().int().min(0).max(65535).optional();
const optionalUrl = z.string().url().optional();

const server = z.object({
  NODE_ENV: z.enum(["development", "test", "production"]).default("development"),
  HOST: z.string().default("127.0.0.1"),
  PORT: port(3000),
  /** Optional separate admin listener; admin routes are always also under /admin on PORT in one-process mode. */
  ADMIN_PORT: optionalPort(),
  /** HTTP worker processes sharing PORT (gateway and one-process platform): a number, or "auto" for one per core. */
  HTTP_WORKERS: z.union([z.literal("auto"), z.coerce.number().int().min(1).max(64)]).default(1),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
});

const redis = z.object({
  /** Unset: the embedded stack provides Redis (reuses 127.0.0.1:6379 or starts one). */
  REDIS_URL: optionalUrl,
  /** Every key the platform writes starts with this, so several deployments or tests can share a server. */
  REDIS_KEY_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9:_-]*$/)
    .default("seckill:"),
  /**
   * Connections the API spreads reserve-script calls over. One auto-pipelined connection makes
   * Redis and Node take turns (Redis idles while Node reads a batch of replies and writes the
   * next); two let them overlap.
   */
  REDIS_RESERVE_CONNECTIONS: int(2, 1, 16),
  /**
   * Redis Cluster seed nodes, `host:port[,host:port...]`: every component then uses ioredis's
   * Cluster client (takes precedence over REDIS_URL). Unset with REDIS_MODE=cluster: the
   * embedded stack starts a local cluster.
   */
  REDIS_CLUSTER_NODES: z
    .string()
    .regex(/^[^,\s]+:\d+(,[^,\s]+:\d+)*$/, "must be host:port[,host:port...]")
    .optional(),
  /** What the embedded stack provides when no REDIS_* is set: one server, or a local cluster (3 masters + 3 replicas). */
  REDIS_MODE: z.enum(["single", "cluster"]).default("single"),
});

const database = z.object({
  /** Unset: the embedded stack provides MariaDB (reuses 127.0.0.1:3306 or starts one), database `seckill`. */
  DATABASE_URL: optionalUrl,
  DATABASE_POOL_SIZE: int(10, 1, 500),
});

const kafka = z.object({
  /** Comma-separated host:port list. Unset: the embedded librdkafka mock cluster. */
  KAFKA_BROKERS: z
    .string()
    .regex(/^[^,\s]+:\d+(,[^,\s]+:\d+)*$/, "must be host:port[,host:port...]")
    .optional(),
  KAFKA_CLIENT_ID: z.string().default("seckill"),
  /** Prepended to every topic name (tests use it to get topics of their own). */
  KAFKA_TOPIC_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9._-]*$/)
    .default(""),
  /** Consumer group session timeout: how long a dead consumer holds its partitions. */
  KAFKA_SESSION_TIMEOUT_MS: int(10_000, 1000, 300_000),
  /** Longest a fetch waits for data; consumers heartbeat between fetches, so keep it well under the session timeout. */
  KAFKA_FETCH_MAX_WAIT_MS: int(200, 10, 5000),
});

const secrets = z.object({
  JWT_SECRET: z.string().min(32, "must be at least 32 characters").default(DEV_SECRETS.JWT_SECRET),
  ADMIN_TOKEN: z.string().min(16, "must be at least 16 characters").default(DEV_SECRETS.ADMIN_TOKEN),
  PAYMENT_WEBHOOK_SECRET: z.string().min(16, "must be at least 16 characters").default(DEV_SECRETS.PAYMENT_WEBHOOK_SECRET),
});

const gateway = z.object({
  /** Set: the gateway forwards to a separate API process over HTTP; unset: calls it in-process. */
  API_URL: optionalUrl,
  RATE_LIMIT_PER_SEC: int(5, 1),
  RATE_LIMIT_BURST: int(10, 0),
  /**
   * Waiting-room calls (joins and polls together) per user per sale per second; past it 429
   * rate_limited. Clients poll every pollAfterSeconds (at least 1 s), so they never reach it.
   */
  QUEUE_RATE_LIMIT_PER_SEC: int(100, 1, 1000),
  /**
   * Longest a background step (an order-writer, payments or loyalty batch, an order-events relay
   * pass) waits for the purchases in flight in its own process to answer, in ms; 0: never waits.
   * Only matters where they share a process with the HTTP edge (npm start, HTTP_WORKERS=1). At
   * most 10 s: well under the consumers' stall time (30 s), which a waiting batch must not reach.
   */
  BACKGROUND_YIELD_MS: int(500, 0, 10_000),
  /** Purchases in flight above this are shed with 503 overloaded. */
  MAX_INFLIGHT_PURCHASES: int(2000, 1),
  /** How many X-Forwarded-For hops to trust when finding the client address (0: use the socket). */
  TRUSTED_PROXY_HOPS: int(0, 0, 10),
  /** Requests with a missing or bad token allowed per client IP per second (then 429): blunts junk-token floods. */
  UNAUTHENTICATED_PER_IP_PER_SEC: int(20, 1),
});

const writer = z.object({
  /** Per writer process (its own token bucket, no coordination): N writers in the group insert up to N times this. */
  ORDER_WRITER_MAX_ROWS_PER_SEC: int(2000, 1),
  ORDER_WRITER_BATCH_SIZE: int(500, 1, 10_000),
  ORDER_WRITER_GROUP_ID: z.string().default("seckill-order-writer"),
  /** How often the expiry worker looks for unpaid orders past their deadline. */
  EXPIRY_INTERVAL_MS: int(1000, 50, 3_600_000),
  /** How often every running sale is reconciled (Redis vs Kafka vs MySQL); 0 turns the periodic job off. */
  RECONCILE_INTERVAL_MS: int(30_000, 0, 86_400_000),
});

const payments = z.object({
  /**
   * How long a payment whose order is not yet a MySQL row waits for it (parked on its own, the
   * other payments go on) before it is recorded as `unknown_order` and alerted. Counted from the
   * payment message's Kafka timestamp (when the callback was handed to Kafka), so a restart or
   * rebalance of the payments consumer does not start the wait again; past it, only once the order
   * writer has passed what Kafka held then (the order may be in it).
   */
  PAYMENT_ORDER_WAIT_MS: int(900_000, 100, 86_400_000),
});

const admission = z.object({
  /** How often each API runs a waiting room's admission tick; admissions never exceed the inlet by more than one tick's worth. */
  ADMISSION_TICK_MS: int(100, 10, 5000),
});

/** Comma-separated exact origins (`https://shop.example`), each a scheme, host and optional port. */
const origins = z
  .string()
  .transform((s) =>
    s
      .split(",")
      .map((o) => o.trim())
      .filter((o) => o !== ""),
  )
  .pipe(z.array(z.string().regex(/^https?:\/\/[^/\s*,]+$/, "each origin must be scheme://host[:port], no path, no wildcard")))
  .default([]);

/** The public edge: slow clients, user tokens from an identity provider, operations, browsers on other origins. */
const edge = z
  .object({
    /** Every listener: the request's headers must arrive within this (Node's server.headersTimeout). */
    HTTP_HEADERS_TIMEOUT_MS: int(5000, 100, 120_000),
    /** Every listener: the whole request, headers and body, must arrive within this (Node's server.requestTimeout). */
    HTTP_REQUEST_TIMEOUT_MS: int(10_000, 100, 600_000),
    /** A listener of its own for /metrics, /healthz and /readyz (no auth); unset: /metrics on PORT needs the admin token. */
    OPS_PORT: optionalPort(),
    /** Set: user tokens are RS256/ES256, verified with this key set (JWKS) instead of HS256 with JWT_SECRET. */
    JWT_JWKS_URL: optionalUrl,
    /** Set: a user token's `iss` must be exactly this. */
    JWT_ISSUER: z.string().optional(),
    /** Set: a user token's `aud` must be or contain this. */
    JWT_AUDIENCE: z.string().optional(),
    /** Clock skew allowed on a user token's exp, nbf and iat. */
    JWT_CLOCK_TOLERANCE_SECONDS: int(30, 0, 300),
    /** Browser origins allowed to call the public user routes (CORS); none by default. */
    CORS_ORIGINS: origins,
    /** How long a browser may cache a CORS preflight answer. */
    CORS_MAX_AGE_SECONDS: int(600, 0, 86_400),
  })
  .refine((e) => e.HTTP_REQUEST_TIMEOUT_MS >= e.HTTP_HEADERS_TIMEOUT_MS, {
    path: ["HTTP_REQUEST_TIMEOUT_MS"],
    message: "must be at least HTTP_HEADERS_TIMEOUT_MS (it covers the headers too)",
  });

const tracingSchema = z.object({
  /** OTLP/HTTP base URL of a collector (spans go to <url>/v1/traces). Unset: tracing is off and no SDK is loaded. */
  OTEL_EXPORTER_OTLP_ENDPOINT: optionalUrl,
  /** service.name of this process's spans; unset: the component's name (seckill, seckill-http, seckill-api, ...). */
  OTEL_SERVICE_NAME: z.string().optional(),
  /** Share of traces kept (0-1), decided where a trace starts and followed downstream (parentbased_traceidratio). */
  OTEL_TRACES_SAMPLER_ARG: z.coerce.number().min(0).max(1).default(1),
});

const orderEvents = z.object({
  /** How often an idle outbox relay looks for new order events (a busy one loops at once). */
  ORDER_EVENTS_RELAY_INTERVAL_MS: int(100, 10, 60_000),
  /** Events per relay batch (one MySQL transaction and one Kafka send). */
  ORDER_EVENTS_BATCH_SIZE: int(500, 1, 10_000),
  /** Sent events are kept this long (for replay), then pruned. */
  ORDER_EVENTS_RETENTION_HOURS: int(168, 1, 24 * 366),
  /** Run the reference consumer of seckill.order-events (apps/loyalty) inside `npm start`. */
  LOYALTY_CONSUMER: z.enum(["true", "false"]).default("true"),
  LOYALTY_GROUP_ID: z.string().default("seckill-loyalty"),
});

const schemas = {
  server,
  redis,
  database,
  kafka,
  secrets,
  gateway,
  writer,
  payments,
  admission,
  edge,
  tracing: tracingSchema,
  orderEvents,
};
const full = z.object({
  ...server.shape,
  ...redis.shape,
  ...database.shape,
  ...kafka.shape,
  ...secrets.shape,
  ...gateway.shape,
  ...writer.shape,
  ...payments.shape,
  ...admission.shape,
  ...edge.shape,
  ...tracingSchema.shape,
  ...orderEvents.shape,
});

export type Config = z.infer<typeof full>;
export type Env = Record<string, string | undefined>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

/** Parses and validates the environment; throws ConfigError listing every problem at once. */
export function loadConfig(env: Env = process.env): Config {
  const cleaned: Env = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v.trim() !== "") cleaned[k] = v;

  const problems: string[] = [];
  const merged: Record<string, unknown> = {};
  for (const schema of Object.values(schemas)) {
    const result = schema.safeParse(cleaned);
    if (result.success) Object.assign(merged, result.data);
    else for (const issue of result.error.issues) problems.push(`${issue.path.join(".")}: ${issue.message}`);
  }
  if (problems.length === 0 && merged.NODE_ENV === "production") {
    for (const [name, devValue] of Object.entries(DEV_SECRETS)) {
      if (cleaned[name] === undefined || cleaned[name] === devValue) {
        problems.push(`${name}: must be set to a secret of your own when NODE_ENV=production`);
      }
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return merged as Config;
}

/** Names of secrets still at their development default (printed at start so nobody ships them). */
export function defaultSecretsInUse(config: Config): (keyof typeof DEV_SECRETS)[] {
  return (Object.keys(DEV_SECRETS) as (keyof typeof DEV_SECRETS)[]).filter((k) => config[k] === DEV_SECRETS[k]);
}

/** Loads config or prints every problem and exits 1: for a process's main(). */
export function loadConfigOrExit(env: Env = process.env): Config {
  try {
    return loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\nSee .env.example for every setting and its default.\n`);
      process.exit(1);
    }
    throw err;
  }
}
