import type { Admin, Consumer, EachBatchPayload } from "kafkajs";
import type { Foreground } from "./foreground.js";
import type { Logger } from "./logger.js";

/**
 * Messages of `topic` the group has not committed yet, summed over `partitions` (every
 * partition when omitted; a partition the group never committed counts from its start). With
 * `handled` (partition -> next offset a consumer has dealt with, though not committed yet), a
 * partition counts from the later of the two. Uses ListOffsets and OffsetFetch only, which the
 * embedded mock serves.
 */
export async function consumerLag(
  admin: Admin,
  groupId: string,
  topic: string,
  partitions?: readonly number[],
  handled?: ReadonlyMap<number, number>,
): Promise<number> {
  const [ends, [committed]] = await Promise.all([admin.fetchTopicOffsets(topic), admin.fetchOffsets({ groupId, topics: [topic] })]);
  const byPartition = new Map(committed.partitions.map((p) => [p.partition, Number(p.offset)]));
  const only = partitions && new Set(partitions);
  let lag = 0;
  for (const end of ends) {
    if (only && !only.has(end.partition)) continue;
    const c = byPartition.get(end.partition) ?? -1;
    const from = Math.max(c >= 0 ? c : Number(end.low), handled?.get(end.partition) ?? 0);
    lag += Math.max(0, Number(end.high) - from);
  }
  return lag;
}

/**
 * Keeps the consumer in its group while an eachBatch handler takes long (a MySQL outage, a slow
 * query). kafkajs heartbeats only between batches and when the handler calls `heartbeat()`; a
 * handler that waits longer than the session timeout between two calls is evicted, and one
 * that learns it late (or never) goes on working for a group that has moved on. This sends a
 * heartbeat every `everyMs` for as long as the handler runs (kafkajs sends at most one per
 * heartbeat interval, whoever asks). When one fails (evicted, a rebalance, the coordinator
 * gone), the handler's `isRunning()` turns false and its `heartbeat()` throws, so it stops at
 * its next check and leaves the batch uncommitted: the partition's next owner (or this
 * consumer, after it rejoins) is redelivered the batch, and the consumers here are idempotent.
 * With `foreground`, the batch first waits (heartbeating) for this process's purchases in flight.
 */
export function keepingMembership(
  handler: (p: EachBatchPayload) => Promise<void>,
  everyMs: number,
  /** Purchases sharing this process: each batch first waits for them, bounded (foreground.ts). */
  foreground?: Foreground,
): (p: EachBatchPayload) => Promise<void> {
  return async (p) => {
    let lost: unknown;
    let beating: Promise<void> | undefined;
    const beat = () => {
      beating ??= p
        .heartbeat()
        .catch((err) => {
          lost ??= err;
        })
        .finally(() => {
          beating = undefined;
        });
      return beating;
    };
    const timer = setInterval(() => {
      if (lost === undefined && p.isRunning()) void beat();
    }, everyMs);
    try {
      await foreground?.yieldTo();
      await handler({
        ...p,
        isRunning: () => lost === undefined && p.isRunning(),
        heartbeat: async () => {
          if (lost === undefined) await beat();
          if (lost !== undefined) throw new MembershipLost(lost);
        },
      });
    } finally {
      clearInterval(timer);
    }
  };
}

/** The consumer is no longer (or not surely) a member of its group: stop the batch, do not commit it. */
export class MembershipLost extends Error {
  constructor(cause: unknown) {
    super(`left the consumer group: ${(cause as Error)?.message ?? String(cause)}`, { cause });
  }
}

export interface StallWatchdog {
  /** Messages waiting on the given partitions (this consumer's assignment). Throwing means "cannot tell". */
  lag: (partitions: readonly number[]) => Promise<number>;
  /**
   * True while what the consumer writes to is down (MySQL not answering): no progress is
   * expected then and a new consumer would not help, so that time does not count as a stall.
   */
  blocked?: () => Promise<boolean>;
  /** No committed offset for this long while messages wait on the assigned partitions = stalled. Default 20 s. */
  stallAfterMs?: number;
  /** How often to look. Default 2 s. */
  checkEveryMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves with `p`, or rejects after `ms` (p goes on in the background). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * A consumer that comes back, whatever stopped it.
 *
 * - kafkajs restarts a consumer after retriable failures, but not after a non-retriable one,
 *   such as "the coordinator is not aware of this member" on an offset commit after a session
 *   expired: the CRASH event without `restart` recreates it here.
 * - A consumer can also stop consuming without crashing: a rejoin that never completes, a
 *   fetch loop that idles for ever. The watchdog sees it: no offset committed for
 *   `stallAfterMs` while messages wait on the partitions this consumer was assigned, and what it
 *   writes to answering. It then recreates the consumer (what was not committed is redelivered;
 *   the consumers here are idempotent).
 * Recreating never waits for ever on the old consumer (a batch stuck in a query): after
 * `disconnectTimeoutMs` the new one joins anyway and the old member's session expires.
 * `setup` subscribes and runs the given consumer; `current()` is the live one.
 */
/** How long a consumer goes without progress before the watchdog asks whether anything waits for it. */
const IDLE_LOOK_MS = 5000;

export function supervisedConsumer(opts: {
  create: () => Consumer;
  setup: (consumer: Consumer) => Promise<void>;
  logger: Logger;
  name: string;
  /** The topic whose assigned partitions the watchdog watches. */
  topic: string;
  watchdog?: StallWatchdog;
  /** Longest a (re)start may take, join included, before it is abandoned and tried again. Default 60 s. */
  bootTimeoutMs?: number;
  /** Longest to wait for the old consumer to leave when recreating it. Default 15 s. */
  disconnectTimeoutMs?: number;
  /** Called each time the consumer is recreated, with why (for a metric). */
  onRestart?: (reason: "crash" | "stall") => void;
}) {
  const log = opts.logger;
  const bootTimeoutMs = opts.bootTimeoutMs ?? 60_000;
  const disconnectTimeoutMs = opts.disconnectTimeoutMs ?? 15_000;
  let consumer: Consumer | undefined;
  let stopping = false;
  let restarting: Promise<void> | undefined;
  let onJoin: () => void;
  const ready = new Promise<void>((resolve) => {
    onJoin = resolve;
  });
  let assigned: number[] = [];
  // The stall clock: the last time the consumer was seen doing its job (or having none to do).
  let lastProgress = Date.now();
  let restarts = 0;

  async function boot(): Promise<void> {
    const c = opts.create();
    consumer = c;
    lastProgress = Date.now();
    c.on(c.events.GROUP_JOIN, (event) => {
      if (c !== consumer) return;
      assigned = event.payload.memberAssignment[opts.topic] ?? [];
      onJoin();
    });
    c.on(c.events.COMMIT_OFFSETS, () => {
      if (c === consumer) lastProgress = Date.now();
    });
    c.on(c.events.CRASH, (event) => {
      if (stopping || event.payload.restart || c !== consumer) return;
      log.error(
        { consumer: opts.name, err: event.payload.error },
        "kafka consumer crashed and kafkajs will not restart it: recreating it (uncommitted messages are redelivered)",
      );
      void restart("crash");
    });
    await c.connect();
    await opts.setup(c);
  }

  function restart(reason: "crash" | "stall"): Promise<void> {
    restarting ??= (async () => {
      restarts++;
      opts.onRestart?.(reason);
      for (let attempt = 1; !stopping; attempt++) {
        const old = consumer;
        await within(old?.disconnect() ?? Promise.resolve(), disconnectTimeoutMs, "disconnecting the old consumer").catch((err) =>
          log.warn({ consumer: opts.name, err }, "the old kafka consumer did not leave in time; its session will expire on its own"),
        );
        await sleep(Math.min(5000, 500 * attempt));
        if (stopping) return;
        try {
          await within(boot(), bootTimeoutMs, "starting the consumer");
          log.warn({ consumer: opts.name, attempt }, "kafka consumer recreated");
          return;
        } catch (err) {
          log.error({ consumer: opts.name, err, attempt }, "kafka consumer could not be recreated yet; retrying");
        }
      }
    })().finally(() => {
      restarting = undefined;
      lastProgress = Date.now();
    });
    return restarting;
  }

  let watchdog: NodeJS.Timeout | undefined;
  const dog = opts.watchdog;
  if (dog) {
    const stallAfterMs = dog.stallAfterMs ?? 20_000;
    let checking = false;
    const check = async () => {
      if (await dog.blocked?.()) {
        lastProgress = Date.now(); // waiting on the sink is not a stall
        return;
      }
      const idleMs = Date.now() - lastProgress;
      // Idle consumers are looked at from IDLE_LOOK_MS on, not only once idle for the stall time:
      // else messages arriving just as an idle consumer's clock passed stallAfterMs (a sale every
      // 30 s or so) had it recreated at once, a healthy consumer, for a 9 s rejoin.
      if (idleMs < Math.min(stallAfterMs, IDLE_LOOK_MS)) return;
      const partitions = assigned;
      const lag = await dog.lag(partitions);
      if (stopping || restarting) return;
      if (lag === 0) {
        lastProgress = Date.now(); // nothing to do is not a stall
        return;
      }
      if (idleMs < stallAfterMs) return; // messages waiting, not yet for the stall time
      log.error(
        { consumer: opts.name, idleMs, lag, partitions },
        "kafka consumer made no progress with messages waiting on its partitions: recreating it (uncommitted messages are redelivered)",
      );
      void restart("stall");
    };
    watchdog = setInterval(() => {
      if (stopping || restarting || checking) return;
      checking = true;
      check()
        .catch(() => {}) // cannot tell (Kafka away): no verdict
        .finally(() => {
          checking = false;
        });
    }, dog.checkEveryMs ?? 2000);
    watchdog.unref();
  }

  return {
    current: (): Consumer => {
      if (!consumer) throw new Error(`${opts.name}: not started`);
      return consumer;
    },
    ready: () => ready,
    start: boot,
    /**
     * Work done that is not a commit yet (e.g. a chunk of a large batch stored): resets the stall
     * clock, so a long batch that is moving is never mistaken for a stall.
     */
    progressed: (): void => {
      lastProgress = Date.now();
    },
    /** How many times the consumer was recreated (crash or stall). */
    restarts: () => restarts,
    async stop(): Promise<void> {
      stopping = true;
      if (watchdog) clearInterval(watchdog);
      await restarting;
      await consumer?.disconnect();
    },
  };
}
