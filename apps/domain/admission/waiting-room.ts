import type { Redis } from "../../core/redis.js";
import { globalKeys, type SaleKeys, saleKeys } from "../keys.js";
import type { SaleInfo } from "../sale-cache.js";
import { shuffleScore } from "./shuffle.js";

/**
 * The waiting room's store: the one module that issues Redis commands for queues and passes
 * (lua/queue-*.lua, challenge-redeem-2.lua). Every script touches only keys of one sale's hash
 * tag, so it runs unchanged on Redis Cluster; the list of sales with a queue (for the admitters)
 * is a plain set outside any script.
 *
 * A split sale (stockBuckets > 1) keeps its stock and its buyers in buckets on other slots, which
 * a script in the room's slot cannot read. For it the room keeps two keys of its own in its slot:
 * the total remaining as the last admission tick read it (`q:stock`, see queue-admit-6.lua) and
 * the users who bought with an admission (`q:bought`, queue-convert-3.lua). The status and join
 * scripts read those in place of the stock and buyers keys: the same scripts, the same cost per
 * poll whatever the number of buckets.
 */

export type QueueState =
  | { state: "waiting" | "sold_out"; position: number; joined?: boolean }
  | { state: "admitted"; passExpiresAt: number }
  | { state: "not_in_queue" | "lapsed" }
  | { state: "ended" | "sold_out_new" };

/** What a status read also says about the room, for the ETA. */
export interface RoomClock {
  /** Redis's clock at the read (ms). */
  now: number;
  /** Measured admissions per second (decayed to `now`); null before the first admission tick. */
  rate: number | null;
  /** The live inlet, when an admitter has run (PATCH changes it there). */
  inlet: number | null;
}

export interface AdmitResult {
  admitted: string[];
  converted: number;
  lapsed: number;
  waiting: number;
  holding: number;
  now: number;
  rate: number;
}

/** What an admission tick read of a split sale's stock, for lua/queue-admit-6.lua (see `beginStockRead`). */
export interface SplitStockRead {
  /** Units left over every bucket (SaleStore.unsold), or null when the sale is not loaded. */
  total: number | null;
  /** The room's `converted` counter, read before `total`. */
  converted: number;
  /** The read's sequence number: the room's copy of the total is written only by a newer read. */
  seq: number;
}

export interface AdmissionCounters {
  joined: number;
  admittedTotal: number;
  converted: number;
  lapsed: number;
  passesIssued: number;
  waiting: number;
  holding: number;
  inlet: number | null;
  rate: number;
}

/** Time constant of the measured admission rate: it follows changes within ~10 s. */
export const RATE_TAU_MS = 10_000;

type Script = (...args: (string | number)[]) => Promise<unknown>;
function script(redis: Redis, name: string): Script {
  const fn = (redis as unknown as Record<string, Script>)[name];
  if (typeof fn !== "function") throw new Error(`redis script ${name} is not registered (see lua/)`);
  return fn.bind(redis);
}

const JOIN_CODES: Record<number, QueueState["state"]> = {
  1: "waiting",
  2: "waiting",
  3: "admitted",
  4: "sold_out",
  [-1]: "ended",
  [-2]: "sold_out_new",
};
const STATUS_CODES: Record<number, QueueState["state"]> = { 0: "not_in_queue", 2: "waiting", 3: "admitted", 4: "sold_out", 5: "lapsed" };

/** Whether the sale's stock is split over buckets: then the room reads its own copies (see above). */
const isSplit = (sale: Pick<SaleInfo, "stockBuckets">) => (sale.stockBuckets ?? 1) > 1;

/** The stock and buyers keys the queue scripts read: the sale's own, or the room's copies for a split sale. */
function stockKeys(k: SaleKeys, split: boolean): [string, string] {
  return split ? [k.queueStock, k.queueBought] : [k.stock, k.buyers];
}

function roomKeys(k: SaleKeys, split: boolean): string[] {
  return [k.waiting, k.admissions, k.admission, ...stockKeys(k, split)];
}

function decode(reply: unknown[], codes: Record<number, QueueState["state"]>, tauMs: number): { q: QueueState; clock: RoomClock } {
  const [code, rank, exp, now, rateMilli, lastTick, inlet] = reply.map((v) => (v === "" ? null : v)) as (number | string | null)[];
  const state = codes[Number(code)];
  if (!state) throw new Error(`queue script returned an unknown code ${code}`);
  let q: QueueState;
  if (state === "waiting" || state === "sold_out") q = { state, position: Number(rank) + 1, joined: Number(code) === 1 };
  else if (state === "admitted") q = { state, passExpiresAt: Number(exp) };
  else q = { state } as QueueState;
  const last = Number(lastTick);
  const rate = last > 0 ? (Number(rateMilli) / 1000) * Math.exp(-Math.max(0, Number(now) - last) / tauMs) : null;
  return { q, clock: { now: Number(now), rate, inlet: inlet === null ? null : Number(inlet) } };
}

export function createWaitingRoom(redis: Redis, prefix: string, opts: { rateTauMs?: number } = {}) {
  const join = script(redis, "seckill_queue_join");
  const status = script(redis, "seckill_queue_status");
  const admit = script(redis, "seckill_queue_admit");
  const convert = script(redis, "seckill_queue_convert");
  const redeem = script(redis, "seckill_challenge_redeem");
  const global = globalKeys(prefix);
  const tau = opts.rateTauMs ?? RATE_TAU_MS;
  const listed = new Set<string>();

  return {
    /** Joins the user (or returns the place they hold). The sale is listed for the admitters on first use. */
    async join(sale: SaleInfo, userId: string) {
      if (!listed.has(sale.id)) {
        await redis.sadd(global.queueSales, sale.id);
        listed.add(sale.id);
      }
      const score = shuffleScore(sale.queueSeed ?? "", userId);
      const reply = (await join(
        ...roomKeys(saleKeys(prefix, sale.id), isSplit(sale)),
        userId,
        score,
        sale.startsAt,
        sale.endsAt,
      )) as unknown[];
      return decode(reply, JOIN_CODES, tau);
    },

    async status(sale: SaleInfo, userId: string) {
      const reply = (await status(...roomKeys(saleKeys(prefix, sale.id), isSplit(sale)), userId, sale.startsAt)) as unknown[];
      return decode(reply, STATUS_CODES, tau);
    },

    /**
     * Starts an admission tick's read of a split sale's stock: takes a sequence number and reads
     * the `converted` counter, both before the caller reads the buckets (SaleStore.unsold), so
     * the admit script can discount purchases made since (see lua/queue-admit-6.lua).
     */
    async beginStockRead(saleId: string): Promise<Omit<SplitStockRead, "total">> {
      const k = saleKeys(prefix, saleId);
      const replies = await redis.multi().hincrby(k.admission, "stockReads", 1).hget(k.admission, "converted").exec();
      if (!replies) throw new Error(`the waiting room of sale ${saleId} could not start a stock read`);
      for (const [err] of replies) if (err) throw err;
      return { seq: Number(replies[0][1]), converted: Number(replies[1][1] ?? 0) };
    },

    /**
     * One admission tick (see lua/queue-admit-6.lua); `tickMs` caps the credit at one tick's
     * worth. A split sale needs `stock`, what the tick read of its buckets (without it, or when
     * the sale is not loaded, the tick admits nobody and leaves the room's copy of the total alone).
     */
    async admit(sale: SaleInfo, tickMs: number, maxPerCall = 1000, stock?: SplitStockRead): Promise<AdmitResult> {
      const k = saleKeys(prefix, sale.id);
      const split = isSplit(sale);
      const splitArgs = !split ? [] : stock && stock.total !== null ? [stock.total, stock.converted, stock.seq] : [0, 0, 0];
      const r = (await admit(
        k.waiting,
        k.admitted,
        k.admissions,
        k.admission,
        ...stockKeys(k, split),
        sale.startsAt,
        sale.endsAt,
        sale.inletPerSecond,
        sale.admissionWindowSeconds * 1000,
        tickMs,
        maxPerCall,
        tau,
        ...splitArgs,
      )) as (number | string)[];
      return {
        admitted: r.slice(7).map(String),
        converted: Number(r[1]),
        lapsed: Number(r[2]),
        waiting: Number(r[3]),
        holding: Number(r[4]),
        now: Number(r[5]),
        rate: Number(r[6]) / 1000,
      };
    },

    /**
     * Whether the user holds an admission: admitted, not bought with it yet, not lapsed. A pass
     * is checked without I/O and outlives its use, so the purchase asks this too: a unit that
     * comes back must go to the queue's head, not to a buyer whose order closed.
     */
    async holds(saleId: string, userId: string): Promise<boolean> {
      return (await redis.zscore(saleKeys(prefix, saleId).admitted, userId)) !== null;
    },

    /** The user bought: their place is freed now rather than at the pass's expiry (a split sale's room also records the buyer). */
    async converted(sale: Pick<SaleInfo, "id" | "stockBuckets">, userId: string): Promise<boolean> {
      const k = saleKeys(prefix, sale.id);
      return Number(await convert(k.admitted, k.admission, k.queueBought, userId, isSplit(sale) ? "1" : "0")) === 1;
    },

    /** Spends a solved challenge; false when it was spent before. */
    async redeemChallenge(saleId: string, challengeKey: string, ttlMs: number): Promise<boolean> {
      const k = saleKeys(prefix, saleId);
      return Number(await redeem(k.usedChallenge(challengeKey), k.admission, Math.max(1, Math.ceil(ttlMs)))) === 1;
    },

    /** Sets the live inlet (admissions per second) the admitters use from their next tick. */
    async setInlet(saleId: string, perSecond: number): Promise<void> {
      await redis.hset(saleKeys(prefix, saleId).admission, "inlet", perSecond);
    },

    async counters(saleId: string): Promise<AdmissionCounters> {
      const k = saleKeys(prefix, saleId);
      const [meta, waiting, holding] = await Promise.all([redis.hgetall(k.admission), redis.zcard(k.waiting), redis.zcard(k.admitted)]);
      const n = (v: string | undefined) => Number(v ?? 0);
      const last = n(meta.lastTick);
      return {
        joined: n(meta.joined),
        admittedTotal: n(meta.admittedTotal),
        converted: n(meta.converted),
        lapsed: n(meta.lapsed),
        passesIssued: n(meta.passesIssued),
        waiting,
        holding,
        inlet: meta.inlet === undefined ? null : Number(meta.inlet),
        rate: last > 0 ? n(meta.rate) * Math.exp(-Math.max(0, Date.now() - last) / tau) : 0,
      };
    },

    /** Sales this process listed (its own joins), known before the next read of the shared list. */
    listedHere(): string[] {
      return [...listed];
    },

    /** Sales whose waiting room has had members (the admitters' work list). */
    queuedSales(): Promise<string[]> {
      return redis.smembers(global.queueSales);
    },

    async unlist(saleId: string): Promise<void> {
      listed.delete(saleId);
      await redis.srem(global.queueSales, saleId);
    },
  };
}

export type WaitingRoom = ReturnType<typeof createWaitingRoom>;
