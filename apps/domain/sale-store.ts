import { setTimeout as sleep } from "node:timers/promises";
import { keySlot, type Redis, shardTags } from "../core/redis.js";
import { bucketTag, globalKeys, reserveKeys, type SaleKeys, saleKeys } from "./keys.js";
import { orderMessageHead } from "./order-message.js";

/**
 * The sale store: the one module that issues Redis commands about sales (BullMQ's `Scripts`
 * class is the model). Reserve, release, preload, handoff records, stats, reconcile's snapshot
 * and rebuild, queued-order copies, the shared sale-info cache and the guard's marker all go
 * through here; routes, reconcile and workers call these methods and never build a key. That is
 * also what keeps every multi-key command inside one sale's hash slot (Redis Cluster).
 *
 * Scripts (lua/reserve-6.lua, release-4.lua, handoff-claim-2.lua, preload-2.lua) get typed
 * wrappers: callers see unions, never raw reply arrays.
 */

export type ReserveOutcome =
  | { kind: "reserved"; slot: number; remaining: number; acceptedAt: number; payBy: number; message: string; bucket: number }
  | { kind: "replayed"; orderId: string }
  | { kind: "not_loaded" | "blocked" | "not_started" | "ended" | "already_purchased" | "sold_out" };

const RESERVE_FAILURES = {
  "-1": "not_loaded",
  "-2": "blocked",
  "-3": "not_started",
  "-4": "ended",
  "-5": "already_purchased",
  "-6": "sold_out",
} as const;

export type ReleaseOutcome = { kind: "released"; remaining: number } | { kind: "already_released" | "not_loaded" | "slot_not_live" };

export type PreloadOutcome = { kind: "loaded" | "already_loaded"; remaining: number } | { kind: "started"; remaining: number | null };

export interface PreloadSettings {
  totalStock: number;
  startsAt: Date;
  endsAt: Date;
  perUserLimit: number;
  priceCents: number;
  paymentTimeoutSeconds: number;
}

/**
 * Everything reconcile compares of one sale in Redis, merged over its stock buckets. Each bucket
 * is read in one transaction (MULTI/EXEC on its own slot: no script runs between its reads), so
 * a bucket's figures agree exactly even while a crowd reserves; buckets on different masters are
 * read one after the other, and units moving between them are counted once (as `stock`).
 */
export interface SaleSnapshot {
  /** Every bucket is loaded (a bucket lost with its shard makes the sale not loaded). */
  loaded: boolean;
  /** Any bucket is blocked. */
  blocked: boolean;
  /** Stock in the buckets plus units moving between them; null when no bucket is loaded. */
  stock: number | null;
  /** userId -> bitmask of live slots (a buyer's slots all live in their home bucket). */
  buyers: Record<string, string>;
  /** orderId -> order message JSON, until Kafka acknowledged it. */
  handoff: Record<string, string>;
  /** How many orders had their unit returned. */
  released: number;
  /** Redis's clock when the earliest bucket was read, in ms (the clock the reserve script stamps orders with). */
  at: number;
}

/** The cheap figures of a sale (reconcile's quick look), summed over its buckets. */
export interface SaleCounters {
  loaded: boolean;
  blocked: boolean;
  accepted: number;
  released: number;
  /** Stock in the buckets plus units moving between them. */
  stock: number;
  /** Sum over buckets of stock + accepted - released - total + movedOut - movedIn: 0 unless Redis disagrees with itself. */
  drift: number;
  /** Stock moves taken out of a bucket and not yet received (normally for milliseconds). */
  movesInFlight: number;
}

/** One order as reconcile knows it (a MySQL row or a pending handoff record). */
export interface RebuildOrder {
  id: string;
  userId: string;
  slot: number;
  /** Closed: its unit counts as returned. */
  closed: boolean;
}

/** What reconcile writes back when it recomputes a sale from MySQL. */
export interface SaleRebuild {
  remaining: number;
  orders: RebuildOrder[];
  sale: {
    startsAt: Date;
    endsAt: Date;
    perUserLimit: number;
    priceCents: number;
    paymentTimeoutSeconds: number;
    totalStock: number;
    stockBuckets: number;
  };
}

/** Per-bucket figures for the stats route. */
export interface BucketStats {
  bucket: number;
  remaining: number | null;
  accepted: number;
}

type Script = (...args: (string | number)[]) => Promise<unknown>;

function script(redis: Redis, name: string): Script {
  const fn = (redis as unknown as Record<string, Script>)[name];
  if (typeof fn !== "function") throw new Error(`redis script ${name} is not registered (see lua/)`);
  return fn.bind(redis);
}

/**
 * How long, in ms, a buyer who finds every bucket dry waits for stock moves in flight before
 * being told sold out, and how often it looks again. A move is two round trips (take, give);
 * one a crash left half done is finished by reconcile, so the wait stays short.
 */
const MOVE_WAIT_MS = 500;
const MOVE_POLL_MS = 10;

/** How long the relay leaves a fresh handoff record alone (the accepting API publishes it itself). */
export const DEFAULT_HANDOFF_GRACE_MS = 3000;

/** The bucket a buyer buys from, always: their slots, idempotency keys and handoff records live there. */
export function homeBucket(userId: string, buckets: number): number {
  if (buckets <= 1) return 0;
  // FNV-1a over the UTF-16 units: stable across processes and releases, cheap on the hot path.
  let h = 0x811c9dc5;
  for (let i = 0; i < userId.length; i++) h = Math.imul(h ^ userId.charCodeAt(i), 0x01000193);
  return (h >>> 0) % buckets;
}

/** The copy of an accepted order kept in Redis while it travels to MySQL (times in ms since the epoch). */
export interface QueuedOrder {
  saleId: string;
  userId: string;
  acceptedAt: number;
  payBy: number;
}

/** Splits `total` over `n` buckets: the first `total % n` get one more. */
export function splitStock(total: number, n: number): number[] {
  return Array.from({ length: n }, (_, b) => Math.floor(total / n) + (b < total % n ? 1 : 0));
}

export function createSaleStore(
  redis: Redis,
  prefix: string,
  opts: {
    handoffGraceMs?: number;
    /** Clients the reserve script is spread over, in turn (default: `redis` alone); see createRedisPool. */
    reserveVia?: Redis[];
  } = {},
) {
  const reserveScripts = (opts.reserveVia ?? [redis]).map((c) => script(c, "seckill_reserve"));
  let turn = 0;
  const claimScript = script(redis, "seckill_handoff_claim");
  const preloadScript = script(redis, "seckill_preload");
  const releaseScript = script(redis, "seckill_release");
  const takeScript = script(redis, "seckill_bucket_take");
  const giveScript = script(redis, "seckill_bucket_give");
  const global = globalKeys(prefix);
  const graceMs = opts.handoffGraceMs ?? DEFAULT_HANDOFF_GRACE_MS;
  const bucketCountKey = `${prefix}sales:buckets`;
  const identityKey = `${prefix}stock-home:id`;
  const markerKey = (tag?: string) => (tag === undefined ? `${global.activeSales}:run-id` : `${prefix}guard:{${tag}}:run-id`);

  // A sale's bucket count never changes once created; remembered per process once known.
  const bucketCounts = new Map<string, number>();
  const tags = new Map<string, string[]>();
  function bucketKeys(saleId: string, n: number): SaleKeys[] {
    let t = tags.get(`${saleId}/${n}`);
    if (!t) {
      t = Array.from({ length: n }, (_, b) => bucketTag(saleId, b, n));
      tags.set(`${saleId}/${n}`, t);
    }
    return t.map((tag) => saleKeys(prefix, saleId, tag));
  }
  const keys = (saleId: string): SaleKeys => saleKeys(prefix, saleId);

  /**
   * How many buckets the sale has: from memory, else the record preload and rebuild keep, else
   * the first bucket's meta (a sale loaded before buckets existed has no `buckets` field: 1).
   * Null when Redis knows nothing of the sale: callers treat it as not loaded, never guess 1 (a
   * buyer homed elsewhere would then buy from the wrong bucket).
   */
  async function bucketsOf(saleId: string): Promise<number | null> {
    const known = bucketCounts.get(saleId);
    if (known !== undefined) return known;
    let n = Number((await redis.hget(bucketCountKey, saleId)) ?? 0);
    if (!n) {
      const [startsAt, buckets] = await redis.hmget(keys(saleId).meta, "startsAt", "buckets");
      if (startsAt === null) return null;
      n = Number(buckets ?? 1);
    }
    bucketCounts.set(saleId, n);
    return n;
  }
  function remember(saleId: string, n: number) {
    bucketCounts.set(saleId, n);
  }
  /** Every bucket's keys; a sale Redis does not know has its first bucket only. */
  async function allBuckets(saleId: string): Promise<SaleKeys[]> {
    return bucketKeys(saleId, (await bucketsOf(saleId)) ?? 1);
  }

  async function reserveIn(k: SaleKeys, saleId: string, userId: string, orderId: string, idem: string, announce: boolean) {
    const head = orderMessageHead(orderId, saleId, userId);
    const reserveScript = reserveScripts[turn];
    turn = (turn + 1) % reserveScripts.length;
    return (await reserveScript(
      ...reserveKeys(k),
      orderId,
      userId,
      idem,
      announce ? global.soldOutChannel : "",
      saleId,
      graceMs,
      head,
    )) as (number | string)[];
  }

  /** Receives a move at its destination and drops its record at the source. */
  async function finishMove(from: SaleKeys, to: SaleKeys, moveId: string, units: number): Promise<boolean> {
    const [code] = (await giveScript(to.meta, to.stock, to.movesIn, moveId, units)) as [number];
    if (code === -1) return false; // destination lost: reconcile rebuilds the sale and voids the move
    await redis.hdel(from.moves, moveId);
    return true;
  }

  // One refill per (sale, bucket) at a time in this process: a crowd hitting a dry bucket waits
  // for the same move instead of draining every other bucket at once.
  const refills = new Map<string, Promise<number>>();
  let moveSeq = 0;
  /**
   * Moves stock into bucket `to` from the bucket that has most (half of it, see
   * bucket-take-3.lua). Returns the units moved; 0 when every other bucket is dry too.
   */
  function refill(saleId: string, n: number, to: number): Promise<number> {
    const key = `${saleId}/${to}`;
    let p = refills.get(key);
    if (!p) {
      p = (async () => {
        const ks = bucketKeys(saleId, n);
        const stocks = await Promise.all(ks.map((k) => redis.get(k.stock)));
        const order = stocks
          .map((v, b) => ({ b, v: Number(v ?? 0) }))
          .filter((x) => x.b !== to && x.v > 0)
          .sort((x, y) => y.v - x.v);
        for (const { b } of order) {
          const moveId = `${process.pid}.${Date.now().toString(36)}.${(moveSeq++).toString(36)}.${Math.random().toString(36).slice(2, 8)}`;
          const [code, units] = (await takeScript(ks[b].meta, ks[b].stock, ks[b].moves, moveId, to, 1_000_000)) as [number, number?];
          if (code !== 1) continue;
          await finishMove(ks[b], ks[to], moveId, Number(units));
          return Number(units);
        }
        return 0;
      })().finally(() => refills.delete(key));
      refills.set(key, p);
    }
    return p;
  }

  /** Whether any bucket of the sale records a move not yet finished (taken, maybe given, record not yet dropped). */
  async function movesInFlight(saleId: string, n: number): Promise<boolean> {
    const lens = await Promise.all(bucketKeys(saleId, n).map((k) => redis.hlen(k.moves)));
    return lens.some((l) => l > 0);
  }

  /** Units taken out of a bucket and not yet received, with what finishing them needs. */
  async function pendingMoves(ks: SaleKeys[]) {
    const out: { from: number; to: number; moveId: string; units: number }[] = [];
    const [moves, received] = await Promise.all([
      Promise.all(ks.map((k) => redis.hgetall(k.moves))),
      Promise.all(ks.map((k) => redis.smembers(k.movesIn))),
    ]);
    const receivedSets = received.map((r) => new Set(r));
    moves.forEach((m, from) => {
      for (const [moveId, v] of Object.entries(m)) {
        const [to, units] = v.split(":").map(Number);
        if (!receivedSets[to]?.has(moveId)) out.push({ from, to, moveId, units });
      }
    });
    return out;
  }

  let lastSoldOut = new Map<string, number>();

  return {
    /** Key names of the first bucket, for tests and tools that inspect Redis; application code goes through the methods. */
    keys,
    /** Key names of every bucket of a sale with `n` buckets (tests, tools). */
    bucketKeys,
    /** Cross-sale key and channel names (same caveat as `keys`). */
    global,
    /** Pub/sub channels the gateways (and, for saleChanged, the APIs) listen on. */
    channels: { soldOut: global.soldOutChannel, restock: global.restockChannel, saleChanged: global.saleChangedChannel },
    /** The rate limiter's key prefix (rate-limiter-flexible owns those keys). */
    rateLimitPrefix: global.rateLimit,
    bucketsOf,
    /** How long the relay leaves a fresh handoff record alone, in ms: a record older than this is overdue. */
    handoffGraceMs: graceMs,

    /**
     * Reserves one unit for the user in their home bucket. When that bucket is dry and the sale
     * has others, stock is moved in from the fullest (exactly: see bucket-take-3.lua) and the
     * reserve tried again; only when every bucket is dry is the answer sold out, and the sale
     * store then tells the gateways itself.
     */
    async reserve(saleId: string, userId: string, orderId: string, idempotencyKey = ""): Promise<ReserveOutcome> {
      const n = await bucketsOf(saleId);
      if (n === null) return { kind: "not_loaded" };
      const home = homeBucket(userId, n);
      const k = bucketKeys(saleId, n)[home];
      let waitMovesUntil = 0;
      for (let attempt = 0; ; attempt++) {
        const reply = await reserveIn(k, saleId, userId, orderId, idempotencyKey, n === 1);
        const code = Number(reply[0]);
        if (code === 1) {
          return {
            kind: "reserved",
            slot: Number(reply[1]),
            remaining: Number(reply[2]),
            acceptedAt: Number(reply[3]),
            payBy: Number(reply[4]),
            message: String(reply[5]),
            bucket: home,
          };
        }
        if (code === 2) return { kind: "replayed", orderId: String(reply[1]) };
        const kind = RESERVE_FAILURES[String(code) as keyof typeof RESERVE_FAILURES];
        if (!kind) throw new Error(`reserve-6.lua returned an unknown code ${code}`);
        // Each retry follows a move that brought units here, which this buyer or another one
        // takes: the loop ends within the stock. The cap only guards against a bug.
        if (kind !== "sold_out" || n === 1 || attempt >= 10_000) return { kind };
        if ((await refill(saleId, n, home)) > 0) continue;
        // Every bucket looks dry, but units another API took for its buyers may still be on
        // their way (take done, give not yet): they land in one bucket, whose buyer takes one
        // and leaves the rest. Told sold out now, this buyer would leave those units unsold in a
        // one-shot crowd; so wait for moves in flight (bounded: a move a crash left half done
        // stays recorded until reconcile finishes it) and look again.
        waitMovesUntil ||= Date.now() + MOVE_WAIT_MS;
        if (Date.now() < waitMovesUntil && (await movesInFlight(saleId, n))) {
          await sleep(MOVE_POLL_MS);
          continue;
        }
        // Every bucket is dry: the sale sold out (units in flight between buckets land in a bucket
        // whose buyers take them; the gateways' refresh reopens the sale if they do).
        const now = Date.now();
        if (now - (lastSoldOut.get(saleId) ?? 0) > 1000) {
          if (lastSoldOut.size > 10_000) lastSoldOut = new Map();
          lastSoldOut.set(saleId, now);
          await redis.publish(global.soldOutChannel, saleId);
        }
        return { kind };
      }
    },

    /** The order an earlier purchase by this user with this Idempotency-Key took, if any (what reserve-6.lua replays; the buyer's home bucket). */
    async replayOf(saleId: string, userId: string, idempotencyKey: string): Promise<string | null> {
      const n = (await bucketsOf(saleId)) ?? 1;
      return redis.hget(bucketKeys(saleId, n)[homeBucket(userId, n)].idem, `${userId}\n${idempotencyKey}`);
    },

    /** Returns a closed order's unit to its buyer's home bucket and frees the slot, once per order. */
    async release(saleId: string, orderId: string, userId: string, slot: number): Promise<ReleaseOutcome> {
      const n = await bucketsOf(saleId);
      if (n === null) return { kind: "not_loaded" };
      const k = bucketKeys(saleId, n)[homeBucket(userId, n)];
      const [code, remaining] = (await releaseScript(
        k.meta,
        k.stock,
        k.buyers,
        k.released,
        orderId,
        userId,
        slot,
        global.restockChannel,
        saleId,
      )) as [number, number?];
      // A split sale's waiting room keeps its own record of who bought (queue-convert-3.lua):
      // once this buyer holds no live order, it forgets them too, as the buyers hash just did.
      // Also when the unit was already back: a release retried because this step was lost (the
      // process died, or the room's slot did not answer) must not leave the buyer recorded, or
      // the room would keep them "admitted" for good and never let them queue again.
      if (n > 1 && (code === 1 || code === 0) && !(await redis.hexists(k.buyers, userId))) {
        await redis.hdel(keys(saleId).queueBought, userId);
      }
      if (code === 1) return { kind: "released", remaining: Number(remaining) };
      if (code === 0) return { kind: "already_released" };
      if (code === -1) return { kind: "not_loaded" };
      if (code === -2) return { kind: "slot_not_live" };
      throw new Error(`release-4.lua returned an unknown code ${code}`);
    },

    /** Order messages whose handoff is overdue (every bucket), claimed for a lease so other relays skip them. */
    async claimOverdue(saleId: string, limit: number, leaseMs: number): Promise<{ orderId: string; message: string; bucket: number }[]> {
      const out: { orderId: string; message: string; bucket: number }[] = [];
      const ks = await allBuckets(saleId);
      for (let b = 0; b < ks.length && out.length < limit; b++) {
        const flat = (await claimScript(ks[b].handoff, ks[b].due, limit - out.length, leaseMs)) as string[];
        for (let i = 0; i < flat.length; i += 2) out.push({ orderId: flat[i], message: flat[i + 1], bucket: b });
      }
      return out;
    },

    /** Kafka acknowledged these orders (all reserved in `bucket`): drop their handoff records. */
    async acknowledge(saleId: string, bucket: number, orderIds: string[]): Promise<void> {
      if (orderIds.length === 0) return;
      const k = (await allBuckets(saleId))[bucket] ?? keys(saleId);
      await redis
        .multi()
        .hdel(k.handoff, ...orderIds)
        .zrem(k.due, ...orderIds)
        .exec();
    },

    /** Makes these handoff records due now: the relay in every API republishes them on its next pass. */
    async expediteHandoffs(saleId: string, records: { orderId: string; userId: string }[]): Promise<void> {
      if (records.length === 0) return;
      const n = (await bucketsOf(saleId)) ?? 1;
      const ks = bucketKeys(saleId, n);
      for (const r of records) await redis.zadd(ks[homeBucket(r.userId, n)].due, 0, r.orderId);
    },

    async pendingHandoffs(saleId: string): Promise<number> {
      const counts = await Promise.all((await allBuckets(saleId)).map((k) => redis.hlen(k.handoff)));
      return counts.reduce((a, b) => a + b, 0);
    },

    /** Due time (epoch ms) of the earliest handoff record, or null when none waits. */
    async earliestHandoffDue(saleId: string): Promise<number | null> {
      const firsts = await Promise.all((await allBuckets(saleId)).map((k) => redis.zrange(k.due, "0", "0", "WITHSCORES")));
      const dues = firsts.filter((f) => f.length).map((f) => Number(f[1]));
      return dues.length ? Math.min(...dues) : null;
    },

    /** Orders the reserve script accepted for this sale (meta counters), 0 when not loaded. */
    async accepted(saleId: string): Promise<number> {
      const counts = await Promise.all((await allBuckets(saleId)).map((k) => redis.hget(k.meta, "accepted")));
      return counts.reduce((a, v) => a + Number(v ?? 0), 0);
    },

    /** Remaining and accepted of each bucket. */
    async bucketStats(saleId: string): Promise<BucketStats[]> {
      const ks = await allBuckets(saleId);
      return Promise.all(
        ks.map(async (k, bucket) => {
          const [stock, accepted] = await Promise.all([redis.get(k.stock), redis.hget(k.meta, "accepted")]);
          return { bucket, remaining: stock === null ? null : Number(stock), accepted: Number(accepted ?? 0) };
        }),
      );
    },

    /** Where an order stands in Redis: its handoff record still waiting for Kafka, its unit returned (the buyer's home bucket). */
    async orderInRedis(saleId: string, userId: string, orderId: string): Promise<{ waiting: boolean; released: boolean }> {
      const n = (await bucketsOf(saleId)) ?? 1;
      const k = bucketKeys(saleId, n)[homeBucket(userId, n)];
      const [waiting, released] = await Promise.all([redis.hexists(k.handoff, orderId), redis.sismember(k.released, orderId)]);
      return { waiting: waiting === 1, released: released === 1 };
    },

    /** Whether the sale's settings are in Redis (preloaded and not lost), in every bucket. */
    async isLoaded(saleId: string): Promise<boolean> {
      if ((await bucketsOf(saleId)) === null) return false;
      const loaded = await Promise.all((await allBuckets(saleId)).map((k) => redis.exists(k.meta)));
      return loaded.every((e) => e === 1);
    },

    /** Loads each bucket's share of the stock (each bucket once; settings refreshed on every call). */
    async preload(saleId: string, s: PreloadSettings & { stockBuckets?: number }, force: boolean): Promise<PreloadOutcome> {
      const n = s.stockBuckets ?? 1;
      remember(saleId, n);
      await redis.hset(bucketCountKey, saleId, String(n));
      const shares = splitStock(s.totalStock, n);
      const ks = bucketKeys(saleId, n);
      const replies: [number, number][] = [];
      for (let b = 0; b < n; b++) {
        replies.push(
          (await preloadScript(
            ks[b].meta,
            ks[b].stock,
            shares[b],
            s.startsAt.getTime(),
            s.endsAt.getTime(),
            s.perUserLimit,
            s.priceCents,
            s.paymentTimeoutSeconds,
            force ? "1" : "0",
            n,
          )) as [number, number],
        );
      }
      const remaining = replies.reduce((a, [, r]) => a + Math.max(0, r), 0);
      if (replies.some(([code]) => code === -1)) {
        return { kind: "started", remaining: replies.every(([, r]) => r < 0) ? null : remaining };
      }
      await redis.sadd(global.activeSales, saleId);
      return { kind: replies.some(([code]) => code === 1) ? "loaded" : "already_loaded", remaining };
    },

    /** Refuses every purchase of the sale (reserve answers blocked, in every bucket) until reconcile unblocks it. */
    async block(saleId: string): Promise<void> {
      for (const k of await allBuckets(saleId)) {
        // Only a loaded bucket: an empty meta hash would make an unloaded bucket look loaded.
        if (await redis.exists(k.meta)) await redis.hset(k.meta, "blocked", "1");
      }
    },

    async isBlocked(saleId: string): Promise<boolean> {
      const flags = await Promise.all((await allBuckets(saleId)).map((k) => redis.hget(k.meta, "blocked")));
      return flags.some((f) => f === "1");
    },

    /** Units left to sell: every bucket's stock plus units moving between buckets; null when not loaded. */
    async remaining(saleId: string): Promise<number | null> {
      const ks = await allBuckets(saleId);
      const stocks = await Promise.all(ks.map((k) => redis.get(k.stock)));
      if (stocks.every((v) => v === null)) return null;
      const inFlight = ks.length > 1 ? (await pendingMoves(ks)).reduce((a, m) => a + m.units, 0) : 0;
      return stocks.reduce((a, v) => a + Number(v ?? 0), 0) + inFlight;
    },

    /**
     * Units left to sell as the waiting room's admission tick counts them: the sum over buckets
     * of `total - accepted + released`, each bucket's three figures read at one instant (one
     * HMGET). Every bucket balances (stock + accepted - released = total + movedIn - movedOut),
     * so this is the stock plus the units moving between buckets, and a move landing between
     * two buckets' reads is counted exactly once (unlike summing the stock keys). Each bucket's
     * figure changes only by its own purchases and returns. Null when any bucket is not loaded.
     */
    async unsold(saleId: string): Promise<number | null> {
      const rows = await Promise.all((await allBuckets(saleId)).map((k) => redis.hmget(k.meta, "total", "accepted", "released")));
      if (rows.some(([total]) => total === null)) return null;
      return rows.reduce((a, [total, accepted, released]) => a + Number(total) - Number(accepted ?? 0) + Number(released ?? 0), 0);
    },

    activeSales(): Promise<string[]> {
      return redis.smembers(global.activeSales);
    },

    /** Reconcile's view of the sale in Redis (every bucket; see SaleSnapshot). */
    async snapshot(saleId: string): Promise<SaleSnapshot> {
      const n = await bucketsOf(saleId);
      const ks = bucketKeys(saleId, n ?? 1);
      const parts = [];
      for (const k of ks) {
        const replies = await redis
          .multi()
          .hgetall(k.meta)
          .get(k.stock)
          .hgetall(k.buyers)
          .hgetall(k.handoff)
          .scard(k.released)
          .time()
          .exec();
        if (!replies) throw new Error(`the snapshot of sale ${saleId} was aborted`);
        for (const [err] of replies) if (err) throw err;
        const [meta, stock, buyers, handoff, released, time] = replies.map(([, v]) => v) as [
          Record<string, string>,
          string | null,
          Record<string, string>,
          Record<string, string>,
          number,
          [string, string],
        ];
        parts.push({
          meta,
          stock,
          buyers,
          handoff,
          released: Number(released),
          at: Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000),
        });
      }
      const inFlight = ks.length > 1 ? (await pendingMoves(ks)).reduce((a, m) => a + m.units, 0) : 0;
      return {
        loaded: n !== null && parts.every((p) => Object.keys(p.meta).length > 0 && p.stock !== null),
        blocked: parts.some((p) => p.meta.blocked === "1"),
        stock: parts.every((p) => p.stock === null) ? null : parts.reduce((a, p) => a + Number(p.stock ?? 0), 0) + inFlight,
        buyers: Object.assign({}, ...parts.map((p) => p.buyers)),
        handoff: Object.assign({}, ...parts.map((p) => p.handoff)),
        released: parts.reduce((a, p) => a + p.released, 0),
        at: Math.min(...parts.map((p) => p.at)),
      };
    },

    /** The meta counters and stock reconcile's quick look compares, summed over the buckets. */
    async counters(saleId: string): Promise<SaleCounters> {
      const n = await bucketsOf(saleId);
      const ks = bucketKeys(saleId, n ?? 1);
      const parts = await Promise.all(
        ks.map(async (k) => {
          // One transaction per bucket: its counters and stock as of one instant.
          const replies = await redis
            .multi()
            .hmget(k.meta, "accepted", "released", "blocked", "total", "movedIn", "movedOut")
            .get(k.stock)
            .exec();
          if (!replies) throw new Error(`the counters of sale ${saleId} were not read`);
          for (const [err] of replies) if (err) throw err;
          const [[accepted, released, blocked, total, movedIn, movedOut], stock] = replies.map(([, v]) => v) as [
            (string | null)[],
            string | null,
          ];
          return { accepted, released, blocked, total, movedIn, movedOut, stock };
        }),
      );
      const moves = ks.length > 1 ? await pendingMoves(ks) : [];
      const num = (v: string | null) => Number(v ?? 0);
      return {
        loaded: n !== null && parts.every((p) => p.total !== null && p.stock !== null),
        blocked: parts.some((p) => p.blocked === "1"),
        accepted: parts.reduce((a, p) => a + num(p.accepted), 0),
        released: parts.reduce((a, p) => a + num(p.released), 0),
        stock: parts.reduce((a, p) => a + num(p.stock), 0) + moves.reduce((a, m) => a + m.units, 0),
        drift: parts.reduce(
          (a, p) => a + num(p.stock) + num(p.accepted) - num(p.released) - num(p.total) + num(p.movedOut) - num(p.movedIn),
          0,
        ),
        movesInFlight: moves.length,
      };
    },

    /** Finishes stock moves a crash left half done (taken, not received). Returns how many. */
    async finishMoves(saleId: string): Promise<number> {
      const n = (await bucketsOf(saleId)) ?? 1;
      if (n === 1) return 0;
      const ks = bucketKeys(saleId, n);
      let done = 0;
      for (const m of await pendingMoves(ks)) if (await finishMove(ks[m.from], ks[m.to], m.moveId, m.units)) done++;
      return done;
    },

    /**
     * Replaces the sale's Redis state with one recomputed from MySQL and unblocks it. Each bucket
     * is rewritten in one transaction on its own slot, still blocked; only when every bucket is
     * rewritten are they unblocked. Stock moves recorded before the block are voided at their
     * destination, so a give arriving late adds nothing. The remaining stock is split evenly;
     * moves rebalance it as buyers come. The active-sales set and the bucket-count record live
     * elsewhere: they are written first (writing them twice is harmless).
     */
    async rebuild(saleId: string, r: SaleRebuild): Promise<void> {
      const n = r.sale.stockBuckets;
      remember(saleId, n);
      await redis.hset(bucketCountKey, saleId, String(n));
      await redis.sadd(global.activeSales, saleId);
      const ks = bucketKeys(saleId, n);
      const voidedBy = new Map<number, string[]>();
      for (const moves of await Promise.all(ks.map((k) => redis.hgetall(k.moves)))) {
        for (const [moveId, v] of Object.entries(moves)) {
          const to = Number(v.split(":")[0]);
          voidedBy.set(to, [...(voidedBy.get(to) ?? []), moveId]);
        }
      }
      const shares = splitStock(r.remaining, n);
      for (let b = 0; b < n; b++) {
        const mine = r.orders.filter((o) => homeBucket(o.userId, n) === b);
        const masks = new Map<string, number>();
        for (const o of mine) if (!o.closed) masks.set(o.userId, (masks.get(o.userId) ?? 0) | (1 << (o.slot - 1)));
        const closed = mine.filter((o) => o.closed).map((o) => o.id);
        const k = ks[b];
        const tx = redis.multi().del(k.buyers, k.released, k.moves);
        if (masks.size) tx.hset(k.buyers, Object.fromEntries([...masks].map(([u, m]) => [u, String(m)])));
        if (closed.length) tx.sadd(k.released, ...closed);
        const voids = voidedBy.get(b) ?? [];
        if (voids.length) tx.sadd(k.movesIn, ...voids);
        tx.set(k.stock, String(shares[b]));
        tx.hset(k.meta, {
          startsAt: String(r.sale.startsAt.getTime()),
          endsAt: String(r.sale.endsAt.getTime()),
          perUserLimit: String(r.sale.perUserLimit),
          priceCents: String(r.sale.priceCents),
          paymentTimeoutSeconds: String(r.sale.paymentTimeoutSeconds),
          // Each bucket balances on its own: stock + accepted - released = total.
          total: String(shares[b] + mine.length - closed.length),
          accepted: String(mine.length),
          released: String(closed.length),
          buckets: String(n),
          movedIn: "0",
          movedOut: "0",
          blocked: "1",
        });
        await tx.exec();
      }
      if (n > 1) {
        // A split sale's waiting room records its buyers itself (queue-convert-3.lua), released
        // as the buyers hash is (see release). The recompute returns closed orders' units without
        // a release, so the room's record is recomputed too: the users holding a live order. (A
        // user recorded there and holding an admission is "admitted" for good; only users with
        // an admission are looked up, so a buyer who never queued changes nothing.)
        const live = [...new Set(r.orders.filter((o) => !o.closed).map((o) => o.userId))];
        const bought = keys(saleId).queueBought;
        const tx = redis.multi().del(bought);
        if (live.length) tx.hset(bought, Object.fromEntries(live.map((u) => [u, "1"])));
        await tx.exec();
      }
      for (const k of ks) await redis.hdel(k.meta, "blocked");
    },

    /** What this Redis holds of the sale (stock-home.ts inspects a home with it). */
    async inspect(saleId: string): Promise<{ remaining: number | null; pendingHandoff: number; loaded: boolean }> {
      const ks = await allBuckets(saleId);
      const [remaining, pendingHandoff, metas] = await Promise.all([
        this.remaining(saleId),
        this.pendingHandoffs(saleId),
        Promise.all(ks.map((k) => redis.exists(k.meta))),
      ]);
      return { remaining, pendingHandoff, loaded: remaining !== null || metas.some((e) => e === 1) };
    },

    /**
     * Deletes the sale's keys here if they hold no stock (no unit left, no accepted order still
     * waiting for Kafka), each bucket atomically (lua/evacuate-7.lua). A split sale's buckets are
     * blocked first, so no reserve or stock move lands while they are emptied one by one (an
     * unsplit sale's one script needs no block, and a refusal leaves it selling as before).
     */
    async evacuate(saleId: string): Promise<{ emptied: true } | { emptied: false; remaining: number; pendingHandoff: number }> {
      const ks = await allBuckets(saleId);
      if (ks.length > 1) await this.block(saleId);
      const run = script(redis, "seckill_evacuate");
      for (const k of ks) {
        const [code, remaining, pendingHandoff] = (await run(k.meta, k.stock, k.buyers, k.handoff, k.due, k.idem, k.released)) as number[];
        if (code !== 1) return { emptied: false, remaining: Number(remaining), pendingHandoff: Number(pendingHandoff) };
      }
      await Promise.all(ks.map((k) => redis.del(k.moves, k.movesIn)));
      await redis.srem(global.activeSales, saleId);
      await redis.hdel(bucketCountKey, saleId);
      bucketCounts.delete(saleId);
      return { emptied: true };
    },

    /** Tells every gateway the sale sold out (true) or has stock again (false). */
    async announce(saleId: string, soldOut: boolean): Promise<void> {
      await redis.publish(soldOut ? global.soldOutChannel : global.restockChannel, saleId);
    },

    /** A copy of an accepted order, readable by id while it travels to MySQL. */
    async rememberQueued(orderId: string, json: string, ttlSeconds: number): Promise<void> {
      await redis.set(global.order(orderId), json, "EX", ttlSeconds);
    },
    /** The copy of an accepted order (rememberQueued), or null once it expired or if it was never written. */
    async queuedOrder(orderId: string): Promise<QueuedOrder | null> {
      const json = await redis.get(global.order(orderId));
      return json ? (JSON.parse(json) as QueuedOrder) : null;
    },
    async isQueued(orderId: string): Promise<boolean> {
      return (await redis.exists(global.order(orderId))) === 1;
    },

    /**
     * The shared (second-level) cache of a sale's static info, JSON. `set` (a reader's reload)
     * only fills an empty entry, `replace` (an admin's change) overwrites: a reload that read
     * MySQL before the change and writes after it cannot put the old sale back.
     */
    saleInfoCache: {
      get: (saleId: string) => redis.get(global.saleInfo(saleId)),
      set: async (saleId: string, json: string, ttlMs: number) => {
        await redis.set(global.saleInfo(saleId), json, "PX", ttlMs, "NX");
      },
      replace: async (saleId: string, json: string, ttlMs: number) => {
        await redis.set(global.saleInfo(saleId), json, "PX", ttlMs);
      },
      del: async (saleId: string) => {
        await redis.del(global.saleInfo(saleId));
      },
    },

    /**
     * Publishes the sale id on the sale-changed channel (PUBLISH: on a cluster any node forwards
     * it to every node's subscribers). Returns how many subscribers of the node it reached.
     */
    announceSaleChanged(saleId: string): Promise<number> {
      return redis.publish(global.saleChangedChannel, saleId);
    },

    /**
     * The Redis guard's record of which server run holds the sales (see redis-guard.ts). On a
     * cluster each shard keeps its own, under a hash tag `tag` that lands on one of its slots,
     * so a shard that lost data has lost or outdated its own record.
     */
    runIdMarker: {
      get: (tag?: string) => redis.get(markerKey(tag)),
      /** Records `runId`; returns the value it replaced. */
      swap: (runId: string, tag?: string) => redis.set(markerKey(tag), runId, "GET"),
    },

    /**
     * This deployment's stock-home identity (see stock-home.ts). One server keeps it under one
     * key; a cluster keeps a copy on every master (under each shard's tag), so a master that
     * loses its data loses one copy, not the identity: the survivors' copy is read and written
     * back. Only when every copy is gone (the whole deployment lost its data) is a new one minted.
     */
    deploymentIdentity: {
      async read(): Promise<string | null> {
        const [legacy, ...copies] = await Promise.all([
          redis.get(identityKey),
          ...shardTags(redis).map((t) => redis.get(`${prefix}stock-home:{${t}}:id`)),
        ]);
        return legacy ?? copies.find((c) => c !== null) ?? null;
      },
      /** The identity, minting `candidate` when there is none (SET NX: of two instances minting at once, one wins). */
      async ensure(candidate: string): Promise<string> {
        const found = await this.read();
        const id = found ?? ((await redis.set(identityKey, candidate, "NX")) === "OK" ? candidate : await redis.get(identityKey));
        if (id === null) throw new Error(`Redis lost ${identityKey} just after it was set`);
        await redis.set(identityKey, id, "NX");
        for (const t of shardTags(redis)) await redis.set(`${prefix}stock-home:{${t}}:id`, id, "NX");
        return id;
      },
    },

    /** The hash slots holding the sale's keys, every bucket (what a shard's data loss can touch). */
    async saleSlots(saleId: string): Promise<number[]> {
      return (await allBuckets(saleId)).map((k) => keySlot(k.meta));
    },
  };
}

export type SaleStore = ReturnType<typeof createSaleStore>;
