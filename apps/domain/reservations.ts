import type { Redis } from "../core/redis.js";
import { globalKeys, reserveKeys, saleKeys } from "./keys.js";
import { orderMessageHead } from "./order-message.js";

/**
 * Typed wrappers of the reservation scripts (lua/reserve-6.lua, handoff-claim-2.lua,
 * preload-2.lua): callers get unions, never raw reply arrays.
 */

export type ReserveOutcome =
  | { kind: "reserved"; slot: number; remaining: number; acceptedAt: number; payBy: number; message: string }
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
 * A sale's Redis state read in one transaction (MULTI/EXEC: no script runs between the reads,
 * and every key shares the sale's hash tag, so it works on Redis Cluster too). Comparisons
 * between these figures hold exactly, even while a crowd reserves.
 */
export interface SaleSnapshot {
  meta: Record<string, string>;
  /** Units remaining, or null when the stock key is missing. */
  stock: number | null;
  /** userId -> bitmask of live slots (as stored). */
  buyers: Record<string, string>;
  /** orderId -> order message JSON, for orders Kafka has not acknowledged yet. */
  handoff: Record<string, string>;
  /** How many orders had their unit returned. */
  released: number;
  /** Redis's clock when the snapshot was taken, in ms (the clock the reserve script stamps orders with). */
  at: number;
}

type Script = (...args: (string | number)[]) => Promise<unknown>;

function script(redis: Redis, name: string): Script {
  const fn = (redis as unknown as Record<string, Script>)[name];
  if (typeof fn !== "function") throw new Error(`redis script ${name} is not registered (see lua/)`);
  return fn.bind(redis);
}

/** How long the relay leaves a fresh handoff record alone (the accepting API publishes it itself). */
export const DEFAULT_HANDOFF_GRACE_MS = 3000;

export function createReservations(
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
  const global = globalKeys(prefix);
  const graceMs = opts.handoffGraceMs ?? DEFAULT_HANDOFF_GRACE_MS;

  return {
    keys: (saleId: string) => saleKeys(prefix, saleId),
    global,

    async reserve(saleId: string, userId: string, orderId: string, idempotencyKey = ""): Promise<ReserveOutcome> {
      const k = saleKeys(prefix, saleId);
      const head = orderMessageHead(orderId, saleId, userId);
      const reserveScript = reserveScripts[turn];
      turn = (turn + 1) % reserveScripts.length;
      const reply = (await reserveScript(
        ...reserveKeys(k),
        orderId,
        userId,
        idempotencyKey,
        global.soldOutChannel,
        saleId,
        graceMs,
        head,
      )) as (number | string)[];
      const code = Number(reply[0]);
      if (code === 1) {
        return {
          kind: "reserved",
          slot: Number(reply[1]),
          remaining: Number(reply[2]),
          acceptedAt: Number(reply[3]),
          payBy: Number(reply[4]),
          message: String(reply[5]),
        };
      }
      if (code === 2) return { kind: "replayed", orderId: String(reply[1]) };
      const kind = RESERVE_FAILURES[String(code) as keyof typeof RESERVE_FAILURES];
      if (!kind) throw new Error(`reserve-6.lua returned an unknown code ${code}`);
      return { kind };
    },

    /** The order an earlier purchase by this user with this Idempotency-Key took, if any (what reserve-6.lua replays). */
    async replayOf(saleId: string, userId: string, idempotencyKey: string): Promise<string | null> {
      return redis.hget(saleKeys(prefix, saleId).idem, `${userId}\n${idempotencyKey}`);
    },

    /** Returns a closed order's unit and frees the user's slot, once per order. */
    async release(saleId: string, orderId: string, userId: string, slot: number): Promise<ReleaseOutcome> {
      const k = saleKeys(prefix, saleId);
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
      if (code === 1) return { kind: "released", remaining: Number(remaining) };
      if (code === 0) return { kind: "already_released" };
      if (code === -1) return { kind: "not_loaded" };
      if (code === -2) return { kind: "slot_not_live" };
      throw new Error(`release-4.lua returned an unknown code ${code}`);
    },

    /** Order messages whose handoff is overdue, claimed for a lease so other relays skip them. */
    async claimOverdue(saleId: string, limit: number, leaseMs: number): Promise<{ orderId: string; message: string }[]> {
      const k = saleKeys(prefix, saleId);
      const flat = (await claimScript(k.handoff, k.due, limit, leaseMs)) as string[];
      const out: { orderId: string; message: string }[] = [];
      for (let i = 0; i < flat.length; i += 2) out.push({ orderId: flat[i], message: flat[i + 1] });
      return out;
    },

    /** Kafka acknowledged these orders: drop their handoff records. */
    async acknowledge(saleId: string, orderIds: string[]): Promise<void> {
      if (orderIds.length === 0) return;
      const k = saleKeys(prefix, saleId);
      await redis
        .multi()
        .hdel(k.handoff, ...orderIds)
        .zrem(k.due, ...orderIds)
        .exec();
    },

    /** How long the relay leaves a fresh handoff record alone, in ms: a record older than this is overdue. */
    handoffGraceMs: graceMs,

    /** The sale's stock, meta, buyers, handoff records and released count, as of one instant (see SaleSnapshot). */
    async snapshot(saleId: string): Promise<SaleSnapshot> {
      const k = saleKeys(prefix, saleId);
      const replies = await redis.multi().hgetall(k.meta).get(k.stock).hgetall(k.buyers).hgetall(k.handoff).scard(k.released).time().exec();
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
      return {
        meta,
        stock: stock === null ? null : Number(stock),
        buyers,
        handoff,
        released: Number(released),
        at: Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000),
      };
    },

    /** Meta counters and stock as of one instant (the periodic reconcile's quick look). */
    async counters(
      saleId: string,
    ): Promise<{ accepted: string | null; released: string | null; blocked: string | null; total: string | null; stock: string | null }> {
      const k = saleKeys(prefix, saleId);
      const replies = await redis.multi().hmget(k.meta, "accepted", "released", "blocked", "total").get(k.stock).exec();
      if (!replies) throw new Error(`the counters of sale ${saleId} were not read`);
      for (const [err] of replies) if (err) throw err;
      const [[accepted, released, blocked, total], stock] = replies.map(([, v]) => v) as [(string | null)[], string | null];
      return { accepted, released, blocked, total, stock };
    },

    async pendingHandoffs(saleId: string): Promise<number> {
      return redis.hlen(saleKeys(prefix, saleId).handoff);
    },

    async preload(saleId: string, s: PreloadSettings, force: boolean): Promise<PreloadOutcome> {
      const k = saleKeys(prefix, saleId);
      const [code, remaining] = (await preloadScript(
        k.meta,
        k.stock,
        s.totalStock,
        s.startsAt.getTime(),
        s.endsAt.getTime(),
        s.perUserLimit,
        s.priceCents,
        s.paymentTimeoutSeconds,
        force ? "1" : "0",
      )) as [number, number];
      if (code === -1) return { kind: "started", remaining: remaining < 0 ? null : remaining };
      await redis.sadd(global.activeSales, saleId);
      return { kind: code === 1 ? "loaded" : "already_loaded", remaining };
    },

    /** Refuses every purchase of the sale (reserve answers blocked) until reconcile unblocks it. */
    async block(saleId: string): Promise<void> {
      const k = saleKeys(prefix, saleId);
      // Only a loaded sale: an empty meta hash would make an unloaded sale look loaded.
      if (await redis.exists(k.meta)) await redis.hset(k.meta, "blocked", "1");
    },

    async isBlocked(saleId: string): Promise<boolean> {
      return (await redis.hget(saleKeys(prefix, saleId).meta, "blocked")) === "1";
    },

    async remaining(saleId: string): Promise<number | null> {
      const v = await redis.get(saleKeys(prefix, saleId).stock);
      return v === null ? null : Number(v);
    },

    activeSales(): Promise<string[]> {
      return redis.smembers(global.activeSales);
    },
  };
}

export type Reservations = ReturnType<typeof createReservations>;
